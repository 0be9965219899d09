/**
 * Per-minute metrics in PostgreSQL (MetricBucket), written in the background. Each instance
 * upserts its own rows with absolute values, so a flush that is retried after an unclear
 * failure writes the same numbers again instead of adding them twice.
 */
import { Prisma, type PrismaClient } from "../../generated/prisma/client.ts";
import { deleteInBatches, PRUNE_BATCHES, type PruneBatches } from "../../infra/batched-delete.ts";
import { utcTimestamp } from "../../infra/sql-time.ts";
import type { MinuteCounts, MinuteRow } from "./instance-metrics.ts";
import type { SketchData } from "./sketch.ts";

/** One minute and provider, summed over instances. */
export interface StoredMinute extends MinuteCounts {
  latencies: SketchData[];
}

export interface BucketStore {
  write(instance: string, rows: MinuteRow[]): Promise<void>;
  /** Minutes in [from, to). */
  read(from: Date, to: Date): Promise<StoredMinute[]>;
  /**
   * Deletes minutes before `before`, a batch at a time (batched-delete.ts), stopping between
   * batches once `stopped()` says so; answers how many.
   */
  prune(before: Date, stopped?: () => boolean): Promise<number>;
}

export function createBucketStore(prisma: PrismaClient, opts: { pruneBatches?: PruneBatches } = {}): BucketStore {
  return {
    async write(instance, rows) {
      if (rows.length === 0) return;
      const values = rows.map(
        (r) => Prisma.sql`(${utcTimestamp(r.minute)}, ${r.provider}, ${instance}, ${r.calls}::int, ${r.successes}::int, ${r.failures}::int,
          ${r.latencyMs}::float8, ${r.ttftMs}::float8, ${r.ttftCount}::int, ${r.promptTokens}::int, ${r.completionTokens}::int,
          ${JSON.stringify(r.latency.toJSON())}::jsonb)`,
      );
      // One statement per flush, whatever the number of rows.
      await prisma.$executeRaw`
        INSERT INTO "MetricBucket" ("minute", "provider", "instance", "calls", "successes", "failures", "totalLatency",
                                    "ttftTotal", "ttftCount", "promptTokens", "completionTokens", "latencySketch")
        VALUES ${Prisma.join(values)}
        ON CONFLICT ("minute", "provider", "instance") DO UPDATE SET
          "calls" = EXCLUDED."calls", "successes" = EXCLUDED."successes", "failures" = EXCLUDED."failures",
          "totalLatency" = EXCLUDED."totalLatency", "ttftTotal" = EXCLUDED."ttftTotal", "ttftCount" = EXCLUDED."ttftCount",
          "promptTokens" = EXCLUDED."promptTokens", "completionTokens" = EXCLUDED."completionTokens",
          "latencySketch" = EXCLUDED."latencySketch"`;
    },

    async read(from, to) {
      const rows = await prisma.metricBucket.findMany({
        where: { minute: { gte: from, lt: to } },
        orderBy: [{ minute: "asc" }, { provider: "asc" }],
      });
      const merged = new Map<string, StoredMinute>();
      for (const row of rows) {
        const key = `${row.minute.getTime()}|${row.provider}`;
        let m = merged.get(key);
        if (!m) {
          m = { minute: row.minute, provider: row.provider, calls: 0, successes: 0, failures: 0, latencyMs: 0, promptTokens: 0, completionTokens: 0, latencies: [] };
          merged.set(key, m);
        }
        m.calls += row.calls;
        m.successes += row.successes;
        m.failures += row.failures;
        m.latencyMs += row.totalLatency;
        m.promptTokens += row.promptTokens;
        m.completionTokens += row.completionTokens;
        if (row.latencySketch && typeof row.latencySketch === "object") m.latencies.push(row.latencySketch as unknown as SketchData);
      }
      return [...merged.values()];
    },

    prune(before, stopped) {
      const until = utcTimestamp(before);
      // Oldest first, through the primary key (minute first); rows another instance is deleting are its to delete.
      return deleteInBatches(
        (limit) => prisma.$executeRaw`DELETE FROM "MetricBucket" WHERE ("minute", "provider", "instance") IN (
          SELECT "minute", "provider", "instance" FROM "MetricBucket" WHERE "minute" < ${until} ORDER BY "minute" LIMIT ${limit}::int FOR UPDATE SKIP LOCKED)`,
        { ...(opts.pruneBatches ?? PRUNE_BATCHES), ...(stopped ? { stopped } : {}) },
      );
    },
  };
}
