/**
 * Writes request-log rows in batches, off the request path: `record` only pushes onto an
 * in-memory queue, a timer flushes it with one createMany about every second. The queue is
 * bounded; when PostgreSQL cannot keep up, new rows are dropped and counted
 * (switchboard_request_log_dropped_total) rather than growing memory or slowing requests.
 * A second timer deletes rows older than the retention.
 */
import { randomUUID } from "node:crypto";
import { Counter, type Registry } from "prom-client";
import type { PrismaClient } from "../../generated/prisma/client.ts";

export interface RequestLogRow {
  requestId: string;
  createdAt: Date;
  userId: string | null;
  keyId: string | null;
  method: string;
  route: string;
  model: string | null;
  provider: string | null;
  upstreamModel: string | null;
  attempts: unknown;
  status: number;
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  ip: string | null;
  requestBody: string | null;
  responseBody: string | null;
}

/**
 * One statement with one parameter per batch: the rows travel as a JSON array that
 * PostgreSQL unpacks itself. Prisma's createMany plans and binds every value of every row
 * on the event loop, which at a few thousand rows a second costs more CPU than the requests
 * being logged; this costs one JSON.stringify. Columns as in schema.prisma (RequestLog).
 */
const INSERT_SQL = `INSERT INTO "RequestLog" ("id","requestId","createdAt","userId","keyId","method","route","model","provider","upstreamModel","attempts","status","errorCode","promptTokens","completionTokens","cachedTokens","costUsd","latencyMs","ttftMs","stream","ip","requestBody","responseBody")
SELECT "id","requestId","createdAt","userId","keyId","method","route","model","provider","upstreamModel","attempts","status","errorCode","promptTokens","completionTokens","cachedTokens","costUsd","latencyMs","ttftMs","stream","ip","requestBody","responseBody"
FROM jsonb_to_recordset($1::jsonb) AS r("id" text,"requestId" text,"createdAt" timestamp(3),"userId" text,"keyId" text,"method" text,"route" text,"model" text,"provider" text,"upstreamModel" text,"attempts" jsonb,"status" integer,"errorCode" text,"promptTokens" integer,"completionTokens" integer,"cachedTokens" integer,"costUsd" double precision,"latencyMs" integer,"ttftMs" integer,"stream" boolean,"ip" text,"requestBody" text,"responseBody" text)`;

/** UTC without a zone, as timestamp(3) columns hold it. */
const utc = (d: Date) => d.toISOString().replace("Z", "");

export interface LogWriterDeps {
  prisma: PrismaClient;
  registry: Registry;
  retentionDays: number;
  log: (msg: string, err?: unknown) => void;
  flushIntervalMs?: number;
  maxQueue?: number;
  pruneIntervalMs?: number;
}

const FLUSH_INTERVAL_MS = 1000;
const MAX_QUEUE = 50_000;
/** Rows per INSERT (one JSON parameter): bounds one statement's size. */
const BATCH = 5000;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

export function createLogWriter(deps: LogWriterDeps) {
  const { prisma } = deps;
  const maxQueue = deps.maxQueue ?? MAX_QUEUE;
  let queue: RequestLogRow[] = [];
  let flushing: Promise<void> | undefined;
  const timers: NodeJS.Timeout[] = [];
  const dropped = new Counter({ name: "switchboard_request_log_dropped_total", help: "Request-log rows dropped because the write queue was full.", registers: [deps.registry] });
  const written = new Counter({ name: "switchboard_request_log_written_total", help: "Request-log rows written.", registers: [deps.registry] });

  async function writeAll(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.slice(0, BATCH);
      queue = queue.slice(batch.length);
      try {
        const json = JSON.stringify(batch.map((r) => ({ ...r, id: randomUUID(), createdAt: utc(r.createdAt) })));
        await prisma.$executeRawUnsafe(INSERT_SQL, json);
        written.inc(batch.length);
      } catch (err) {
        dropped.inc(batch.length);
        deps.log("request log write failed; rows dropped", err);
      }
    }
  }

  function flush(): Promise<void> {
    flushing ??= writeAll().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  async function prune(): Promise<number> {
    const before = new Date(Date.now() - deps.retentionDays * 86_400_000);
    const { count } = await prisma.requestLog.deleteMany({ where: { createdAt: { lt: before } } });
    return count;
  }

  return {
    record(row: RequestLogRow): void {
      if (queue.length >= maxQueue) {
        dropped.inc();
        return;
      }
      queue.push(row);
    },
    flush,
    prune,
    pending: () => queue.length,
    start(): void {
      const every = (ms: number, fn: () => Promise<unknown>, what: string) => {
        const t = setInterval(() => void fn().catch((err: unknown) => deps.log(`${what} failed`, err)), ms);
        t.unref();
        timers.push(t);
      };
      every(deps.flushIntervalMs ?? FLUSH_INTERVAL_MS, flush, "request log flush");
      every(deps.pruneIntervalMs ?? PRUNE_INTERVAL_MS, prune, "request log prune");
      void prune().catch((err: unknown) => deps.log("request log prune failed", err));
    },
    async close(): Promise<void> {
      for (const t of timers) clearInterval(t);
      await flush();
    },
  };
}

export type LogWriter = ReturnType<typeof createLogWriter>;
