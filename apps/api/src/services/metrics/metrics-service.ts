/**
 * Metrics: records calls and requests in memory (request path), flushes in the background,
 * and answers the cluster view. `summary` first asks every live instance to flush (pub/sub,
 * bounded wait), so an operator — or a test — reads figures that include what just
 * happened anywhere in the fleet; `live` reads what the background flushes published.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { TEmergencyStatus, TMetricsSummary, TMetricsTimeseries } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { PruneBatches } from "../../infra/batched-delete.ts";
import type { Coordination, InstanceInfo } from "../../infra/coordination/port.ts";
import type { ProviderCallRecord } from "../gateway/chain-types.ts";
import { createBucketStore } from "./bucket-store.ts";
import { createClusterStore } from "./cluster-store.ts";
import { createFlusher } from "./flusher.ts";
import { createInstanceMetrics, type RequestRecord } from "./instance-metrics.ts";
import { createPrometheusMetrics, type PrometheusSources, type Surface } from "./prometheus.ts";
import type { CircuitView, InstanceIdentity, InstanceSnapshot } from "./snapshot.ts";
import { buildSummary } from "./summary.ts";
import { MINUTE_MS, buildTimeseries, resolveRange } from "./timeseries.ts";

export interface MetricsServiceDeps {
  coordination: Coordination;
  prisma: PrismaClient;
  registry: Registry;
  identity: InstanceIdentity;
  log: Logger;
  circuits: () => Record<string, CircuitView>;
  activeProviders: () => string[];
  emergency: () => TEmergencyStatus;
  /** Providers' background health (switchboard_provider_reachable). */
  health?: PrometheusSources["health"];
  /** Snapshot to coordination (default 1000 ms). */
  flushIntervalMs?: number;
  /** Minute rows to PostgreSQL (default 5000 ms). */
  dbFlushIntervalMs?: number;
  /** How long `summary` waits for other instances to flush (default 300 ms). */
  flushWaitMs?: number;
  now?: () => number;
  /** How the minutes past retention are deleted (default PRUNE_BATCHES). */
  pruneBatches?: PruneBatches;
}

const FLUSH_CHANNEL = "metrics:flush";
const FLUSHED_CHANNEL = "metrics:flushed";
/** metrics.live pushes at most this often. */
export const LIVE_INTERVAL_MS = 1_000;

export type MetricsService = ReturnType<typeof createMetricsService>;

/** Messages come from other instances (or anyone with access to Redis): never throw on them. */
function parseMessage(message: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(message);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function createMetricsService(deps: MetricsServiceDeps) {
  const now = deps.now ?? Date.now;
  const self = deps.identity.id;
  const local = createInstanceMetrics(deps.identity, { circuits: deps.circuits, now });
  const prom = createPrometheusMetrics(deps.registry, {
    version: deps.identity.version,
    circuits: deps.circuits,
    providers: deps.activeProviders,
    activeStreams: local.activeStreams,
    emergencyActive: () => deps.emergency().active,
    ...(deps.health ? { health: deps.health } : {}),
  });
  const cluster = createClusterStore(deps.coordination, now);
  const buckets = createBucketStore(deps.prisma, deps.pruneBatches ? { pruneBatches: deps.pruneBatches } : {});
  const flusher = createFlusher({ instanceId: self, local, cluster, buckets, prom, log: deps.log, now });
  const waiters = new Map<string, { pending: Set<string>; done: () => void }>();
  const timers: NodeJS.Timeout[] = [];
  const unsubscribes: Array<() => Promise<void>> = [];
  let liveCache: { at: number; value: Promise<TMetricsSummary> } | undefined;

  const flushBoth = (db: boolean) => Promise.all([flusher.toCoordination(), db ? flusher.toDatabase() : undefined]);

  /** Flushes here and asks the other live instances to flush; waits at most flushWaitMs for them. */
  async function flushFleet(db: boolean): Promise<InstanceInfo[]> {
    const live = await deps.coordination.liveInstances();
    const others = new Set(live.map((i) => i.id).filter((id) => id !== self));
    const own = flushBoth(db);
    if (others.size > 0) {
      const nonce = randomUUID();
      const acked = new Promise<void>((done) => waiters.set(nonce, { pending: others, done }));
      try {
        await deps.coordination.publish(FLUSH_CHANNEL, JSON.stringify({ nonce, from: self, db }));
        await Promise.race([acked, sleep(deps.flushWaitMs ?? 300, undefined, { ref: false })]);
      } finally {
        waiters.delete(nonce);
      }
    }
    await own;
    return live;
  }

  async function clusterSummary(fresh: boolean): Promise<TMetricsSummary> {
    let snapshots: InstanceSnapshot[] = [];
    let live: InstanceInfo[] = [];
    let partial = false;
    try {
      live = fresh ? await flushFleet(false) : await deps.coordination.liveInstances();
      snapshots = await cluster.readAll();
    } catch (err) {
      deps.log.warn({ err }, "metrics: coordination unreachable; summary covers this instance only");
      partial = true;
    }
    // This instance's own figures are always the current ones, whatever was last flushed.
    const own = local.snapshot();
    snapshots = [...snapshots.filter((s) => s.id !== self), own];
    if (!live.some((i) => i.id === self)) live = [...live, { id: self, startedAt: own.startedAt, lastSeenAt: own.flushedAt, meta: {} }];
    return buildSummary({ snapshots, live, activeProviders: deps.activeProviders(), emergency: deps.emergency(), partial, now: now() });
  }

  /** Shared by every live subscriber of this instance: one cluster read per interval. */
  function cachedSummary(): Promise<TMetricsSummary> {
    const at = now();
    if (!liveCache || at - liveCache.at >= LIVE_INTERVAL_MS / 2) liveCache = { at, value: clusterSummary(false) };
    return liveCache.value;
  }

  /** Other instances ask us to flush (summary, timeseries); we tell them when it is done. */
  async function subscribeFlushChannels(): Promise<void> {
    unsubscribes.push(
      await deps.coordination.subscribe(FLUSH_CHANNEL, (message) => {
        const { nonce, from, db } = parseMessage(message) as { nonce?: string; from?: string; db?: boolean };
        if (typeof nonce !== "string" || from === self) return;
        void flushBoth(db === true)
          .then(() => deps.coordination.publish(FLUSHED_CHANNEL, JSON.stringify({ nonce, id: self })))
          .catch(() => {}); // logged by the flusher; the asker stops waiting at its deadline
      }),
      await deps.coordination.subscribe(FLUSHED_CHANNEL, (message) => {
        const { nonce, id } = parseMessage(message) as { nonce?: string; id?: string };
        const waiter = typeof nonce === "string" ? waiters.get(nonce) : undefined;
        if (!waiter || typeof id !== "string") return;
        waiter.pending.delete(id);
        if (waiter.pending.size === 0) waiter.done();
      }),
    );
  }

  return {
    recordCall(record: ProviderCallRecord, fallbackFrom?: string): void {
      local.recordCall(record, fallbackFrom);
      prom.call(record, fallbackFrom);
    },
    recordRequest(surface: Surface, record: RequestRecord & { clientClosed: boolean }): void {
      local.recordRequest(record);
      prom.gateway(surface, record.errorCode ?? (record.clientClosed ? "client_closed" : "success"), record.overheadMs, { result: record.cacheResult, savedUsd: record.cacheSavedUsd });
    },
    recordHttp: prom.http,
    recordSpend: prom.spend,
    recordProcedure: prom.procedure,
    streamOpened: local.streamOpened,
    streamClosed: local.streamClosed,

    async start(): Promise<void> {
      timers.push(setInterval(flusher.quietly(flusher.toCoordination), deps.flushIntervalMs ?? 1_000));
      timers.push(setInterval(flusher.quietly(flusher.toDatabase), deps.dbFlushIntervalMs ?? 5_000));
      for (const t of timers) t.unref();
      // Without these channels a summary just waits out its deadline: degraded, not broken.
      await subscribeFlushChannels().catch((err: unknown) => deps.log.warn({ err }, "metrics: flush channels unavailable"));
    },

    /**
     * Stops the timers, writes what is left (a graceful stop loses nothing) and ends a prune in
     * flight after its current batch: nothing of this service uses the database once it answers.
     */
    async close(): Promise<void> {
      for (const t of timers.splice(0)) clearInterval(t);
      const pruneEnded = flusher.stopPruning();
      await Promise.all(unsubscribes.splice(0).map((u) => u().catch(() => {})));
      await flushBoth(true).catch(() => {});
      await pruneEnded;
    },

    summary: () => clusterSummary(true),

    async timeseries(input: { from?: Date | undefined; to?: Date | undefined } | undefined): Promise<TMetricsTimeseries> {
      const range = resolveRange(input, now());
      await flushFleet(true).catch(() => flusher.toDatabase().catch(() => {}));
      return buildTimeseries(range, await buckets.read(new Date(range.from), new Date(range.to + MINUTE_MS)));
    },

    /** The summary now, then whenever it changes, at most once per LIVE_INTERVAL_MS. */
    async *live(signal: AbortSignal | undefined): AsyncGenerator<TMetricsSummary> {
      let last = "";
      while (!signal?.aborted) {
        const summary = await cachedSummary();
        // Timestamps move on every read; only a change in the figures is worth a push.
        const key = JSON.stringify({ ...summary, generatedAt: "", instances: summary.instances.map((i) => ({ ...i, flushedAt: "" })) });
        if (key !== last) {
          last = key;
          yield summary;
        }
        try {
          await sleep(LIVE_INTERVAL_MS, undefined, { signal });
        } catch {
          return; // aborted
        }
      }
    },

    /** GET /metrics: this instance's Prometheus exposition. */
    async exposition(): Promise<{ contentType: string; text: string }> {
      return { contentType: deps.registry.contentType, text: await deps.registry.metrics() };
    },

    /** Tests and shutdown: write everything now. */
    flush: () => flushBoth(true).then(() => {}),
  };
}
