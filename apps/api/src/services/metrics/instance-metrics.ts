/**
 * This instance's figures, aggregated in memory on the request path: a record costs a few
 * map updates and two sketch inserts, never I/O. Background flushes read them as a
 * cumulative snapshot (coordination) and as per-minute rows (PostgreSQL).
 */
import type { CacheResult } from "../../infra/request-scope.ts";
import type { ProviderCallRecord } from "../gateway/chain-types.ts";
import { createSketch, type Sketch } from "./sketch.ts";
import { SNAPSHOT_VERSION, type CacheTotals, type CircuitView, type InstanceIdentity, type InstanceSnapshot, type ProviderTotals } from "./snapshot.ts";

/** Reserved provider key of the per-minute rows that count gateway requests. */
export const GATEWAY_ROW = "_gateway";
const MINUTE_MS = 60_000;
/** Unflushed minutes kept while the database is unreachable (then the oldest are dropped). */
const MAX_PENDING_MINUTES = 24 * 60;

export interface RequestRecord {
  durationMs: number;
  /** Switchboard's own share of the request, when it could be measured. */
  overheadMs: number | undefined;
  /** The error code the client saw; undefined for a success or a client that left. */
  errorCode: string | undefined;
  /** What the response cache did, for a request that used it. */
  cacheResult?: CacheResult | undefined;
  /** What a hit's answer would have cost from a provider (USD). */
  cacheSavedUsd?: number | undefined;
  /** Epoch ms when the response ended. */
  at: number;
}

/** The counters kept per minute and provider, in memory (MinuteRow) and in PostgreSQL (StoredMinute). */
export interface MinuteCounts {
  minute: Date;
  provider: string;
  calls: number;
  successes: number;
  failures: number;
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
}

/** One instance's figures for one minute and one provider (or GATEWAY_ROW). */
export interface MinuteRow extends MinuteCounts {
  ttftMs: number;
  ttftCount: number;
  latency: Sketch;
}

interface LiveTotals extends Omit<ProviderTotals, "latency" | "ttft"> {
  latency: Sketch;
  ttft: Sketch;
}

interface MinuteBucket {
  rows: Map<string, MinuteRow>;
  rev: number;
  flushedRev: number;
}

export type InstanceMetrics = ReturnType<typeof createInstanceMetrics>;

export function createInstanceMetrics(identity: InstanceIdentity, opts: { circuits: () => Record<string, CircuitView>; now?: () => number }) {
  const now = opts.now ?? Date.now;
  const providers = new Map<string, LiveTotals>();
  const minutes = new Map<number, MinuteBucket>();
  const recent = new Map<number, number>();
  const errorsByCode: Record<string, number> = {};
  const cache: CacheTotals = { hit: 0, miss: 0, refresh: 0, savedUsd: 0 };
  const overhead = createSketch();
  let requests = 0;
  let errors = 0;
  let activeStreams = 0;
  /** Bumped on every change, so flushes can skip an instance with nothing new. */
  let version = 0;

  const totalsOf = (id: string): LiveTotals => {
    let t = providers.get(id);
    if (!t) {
      t = { calls: 0, successes: 0, failures: 0, aborted: 0, latencyMs: 0, latency: createSketch(), ttft: createSketch(), promptTokens: 0, completionTokens: 0, fallbacksFrom: 0, outcomes: {} };
      providers.set(id, t);
    }
    return t;
  };

  function minuteRow(at: number, provider: string): MinuteRow {
    const start = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    let bucket = minutes.get(start);
    if (!bucket) {
      minutes.set(start, (bucket = { rows: new Map(), rev: 0, flushedRev: 0 }));
      if (minutes.size > MAX_PENDING_MINUTES) minutes.delete(Math.min(...minutes.keys()));
    }
    bucket.rev += 1;
    let row = bucket.rows.get(provider);
    if (!row) {
      row = { minute: new Date(start), provider, calls: 0, successes: 0, failures: 0, latencyMs: 0, ttftMs: 0, ttftCount: 0, promptTokens: 0, completionTokens: 0, latency: createSketch() };
      bucket.rows.set(provider, row);
    }
    return row;
  }

  function pruneRecent(second: number): void {
    for (const s of recent.keys()) if (s <= second - 60) recent.delete(s);
  }

  return {
    /** One upstream call. `fallbackFrom`: the failed provider this request moved on from. */
    recordCall(record: ProviderCallRecord, fallbackFrom?: string): void {
      version += 1;
      const t = totalsOf(record.provider);
      const row = minuteRow(record.at, record.provider);
      t.calls += 1;
      row.calls += 1;
      t.outcomes[record.outcome] = (t.outcomes[record.outcome] ?? 0) + 1;
      t.latencyMs += record.latencyMs;
      t.latency.add(record.latencyMs);
      row.latencyMs += record.latencyMs;
      row.latency.add(record.latencyMs);
      if (record.outcome === "success") {
        t.successes += 1;
        row.successes += 1;
        t.promptTokens += record.promptTokens ?? 0;
        t.completionTokens += record.completionTokens ?? 0;
        row.promptTokens += record.promptTokens ?? 0;
        row.completionTokens += record.completionTokens ?? 0;
        if (record.ttftMs !== undefined) {
          t.ttft.add(record.ttftMs);
          row.ttftMs += record.ttftMs;
          row.ttftCount += 1;
        }
      } else if (record.outcome === "aborted") {
        t.aborted += 1;
      } else {
        t.failures += 1;
        row.failures += 1;
      }
      if (fallbackFrom !== undefined) totalsOf(fallbackFrom).fallbacksFrom += 1;
    },

    /** One finished gateway request (chat.*, consensus.*, /v1/*). */
    recordRequest(r: RequestRecord): void {
      version += 1;
      requests += 1;
      const second = Math.floor(r.at / 1000);
      recent.set(second, (recent.get(second) ?? 0) + 1);
      pruneRecent(second);
      if (r.overheadMs !== undefined) overhead.add(r.overheadMs);
      if (r.cacheResult !== undefined) {
        cache[r.cacheResult] += 1;
        cache.savedUsd += r.cacheSavedUsd ?? 0;
      }
      const row = minuteRow(r.at, GATEWAY_ROW);
      row.calls += 1;
      row.latencyMs += r.durationMs;
      if (r.errorCode === undefined) {
        row.successes += 1;
        return;
      }
      errors += 1;
      row.failures += 1;
      errorsByCode[r.errorCode] = (errorsByCode[r.errorCode] ?? 0) + 1;
    },

    streamOpened(): void {
      version += 1;
      activeStreams += 1;
    },
    streamClosed(): void {
      version += 1;
      activeStreams = Math.max(0, activeStreams - 1);
    },

    version: () => version,
    activeStreams: () => activeStreams,

    snapshot(): InstanceSnapshot {
      const at = now();
      pruneRecent(Math.floor(at / 1000));
      const out: Record<string, ProviderTotals> = {};
      for (const [id, t] of providers) out[id] = { ...t, outcomes: { ...t.outcomes }, latency: t.latency.toJSON(), ttft: t.ttft.toJSON() };
      return {
        v: SNAPSHOT_VERSION,
        ...identity,
        flushedAt: new Date(at).toISOString(),
        requests,
        errors,
        errorsByCode: { ...errorsByCode },
        activeStreams,
        overhead: overhead.toJSON(),
        recent: [...recent.entries()],
        providers: out,
        circuits: opts.circuits(),
        cache: { ...cache },
      };
    },

    /**
     * Rows of every minute changed since its last successful write, as absolute values for
     * this instance (so a retried write is harmless). Call `commit` once they are stored;
     * finished minutes are then forgotten.
     */
    pendingMinutes(): { rows: MinuteRow[]; commit(): void } {
      const taken = [...minutes.values()].filter((b) => b.rev !== b.flushedRev).map((b) => [b, b.rev] as const);
      return {
        rows: taken.flatMap(([b]) => [...b.rows.values()]),
        commit() {
          const current = Math.floor(now() / MINUTE_MS) * MINUTE_MS;
          for (const [bucket, rev] of taken) bucket.flushedRev = Math.max(bucket.flushedRev, rev);
          for (const [start, bucket] of minutes) {
            if (start < current && bucket.flushedRev === bucket.rev) minutes.delete(start);
          }
        },
      };
    },
  };
}
