/**
 * Background writes of this instance's figures: the cumulative snapshot to coordination
 * (every flushIntervalMs, when something changed) and per-minute rows to PostgreSQL (every
 * dbFlushIntervalMs). Never on a request's path. Each target's writes run one at a time; a
 * failure is logged once per outage and retried on the next tick, and since every write
 * carries absolute values a retry cannot double-count.
 *
 * The prune of minutes past retention (every 10 minutes) is started by a flush to the
 * database but not part of it: a run may be up to 100 delete statements on a backlog, and
 * what awaits a flush (metrics.timeseries, a graceful stop) must not wait for them. `stop`
 * ends a run in flight between two batches and answers once it has ended.
 */
import type { Logger } from "pino";
import type { BucketStore } from "./bucket-store.ts";
import type { ClusterStore } from "./cluster-store.ts";
import type { InstanceMetrics } from "./instance-metrics.ts";
import type { PrometheusMetrics } from "./prometheus.ts";
import { RETENTION_MS } from "./timeseries.ts";

export interface FlusherOptions {
  instanceId: string;
  local: InstanceMetrics;
  cluster: ClusterStore;
  buckets: BucketStore;
  prom: PrometheusMetrics;
  log: Logger;
  now: () => number;
}

/** How often the minutes past retention are pruned. */
const PRUNE_INTERVAL_MS = 10 * 60_000;

/** Runs `fn` after any run already in progress, so writes of one target never overlap. */
function serial(fn: () => Promise<void>): () => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  return () => (tail = tail.then(fn, fn));
}

export function createFlusher(opts: FlusherOptions) {
  let flushedVersion = -1;
  let prunedAt = 0;
  let pruning: Promise<void> | undefined;
  let pruneFailing = false;
  let stopping = false;
  const failing = { coordination: false, database: false };

  /** Starts a prune when one is due and none is running; never awaited by a flush. */
  function pruneWhenDue(): void {
    if (stopping || pruning || opts.now() - prunedAt <= PRUNE_INTERVAL_MS) return;
    // Any instance may prune; deleting what is already gone is harmless.
    pruning = opts.buckets
      .prune(new Date(opts.now() - RETENTION_MS - 60_000), () => stopping)
      .then(
        () => {
          prunedAt = opts.now();
          if (pruneFailing) opts.log.info("metrics prune recovered");
          pruneFailing = false;
        },
        (err: unknown) => {
          // Due again, so tried again on the next flush; logged once per outage.
          if (!pruneFailing) opts.log.warn({ err }, "metrics prune failed; will retry");
          pruneFailing = true;
        },
      )
      .finally(() => (pruning = undefined));
  }

  const guard = (target: keyof typeof failing, fn: () => Promise<void>) => async () => {
    try {
      await fn();
      if (failing[target]) opts.log.info({ target }, "metrics flush recovered");
      failing[target] = false;
    } catch (err) {
      opts.prom.flushFailed(target);
      if (!failing[target]) opts.log.warn({ err, target }, "metrics flush failed; will retry");
      failing[target] = true;
      throw err;
    }
  };

  const toCoordination = serial(
    guard("coordination", async () => {
      const version = opts.local.version();
      if (version === flushedVersion) return;
      await opts.cluster.write(opts.local.snapshot());
      flushedVersion = version;
    }),
  );

  const toDatabase = serial(
    guard("database", async () => {
      const pending = opts.local.pendingMinutes();
      await opts.buckets.write(opts.instanceId, pending.rows);
      pending.commit();
      pruneWhenDue();
    }),
  );

  return {
    toCoordination,
    toDatabase,
    /** Starts no more prunes and ends the one in flight between batches; answers once it has ended. */
    async stopPruning(): Promise<void> {
      stopping = true;
      await pruning;
    },
    /** For a ticker: failures are already logged and counted. */
    quietly: (fn: () => Promise<void>) => () => void fn().catch(() => {}),
  };
}

export type Flusher = ReturnType<typeof createFlusher>;
