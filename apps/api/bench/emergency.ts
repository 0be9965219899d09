/**
 * Emergency-stop propagation benchmark: `npm run bench:emergency`.
 *
 * Starts three API processes sharing PostgreSQL and Redis and runs freeze/unfreeze cycles,
 * each freeze sent to the next instance in turn. Everything is measured from outside, from
 * the moment the freeze call is sent, in two phases so neither disturbs the other:
 *
 *  1. watch: each instance's `emergency.watch` SSE stream pushes the state the moment that
 *     instance applies it; the time to the LAST instance's push is the propagation.
 *  2. probe: one poller per instance sends a request about every millisecond (an anonymous
 *     call to a non-allowlisted procedure: 401 while serving, 503 once frozen); the time to
 *     the last instance's first 503 response is an upper bound (the instance applied it
 *     somewhere inside that request). The probes load the instances, so this is the
 *     "under traffic" number.
 *
 * Env: BENCH_CYCLES per phase (default 200), TEST_DATABASE_URL, REDIS_URL.
 */
import { loadavg } from "node:os";
import { createSwitchboardClient, type SwitchboardClient } from "@switchboard/client";
import { CLUSTER_SUPERADMIN, startApiProcess, type ApiProcess } from "../test/api-process.ts";
import { createTestDatabase } from "../test/database.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "../test/redis.ts";

const CYCLES = Number(process.env.BENCH_CYCLES ?? 200);
const INSTANCES = 3;
const POLL_GAP_MS = 1;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const f = (n: number) => `${n.toFixed(1)} ms`;
  return `p50 ${f(percentile(s, 50))} · p90 ${f(percentile(s, 90))} · p99 ${f(percentile(s, 99))} · max ${f(s.at(-1) ?? NaN)}`;
}

function progress(phase: string, cycle: number, values: number[]): void {
  if (cycle % 10 !== 9 && cycle !== CYCLES - 1) return;
  const s = [...values].sort((a, b) => a - b);
  process.stderr.write(`\r${phase}: cycle ${cycle + 1}/${CYCLES} · freeze → last instance p50 ${percentile(s, 50).toFixed(1)} ms p99 ${percentile(s, 99).toFixed(1)} ms   `);
  if (cycle === CYCLES - 1) process.stderr.write("\n");
}

/** Resolves when (ms since `t0`) the first probe response of one instance matches. */
async function firstMatch(url: string, t0: number, done: (status: number) => boolean): Promise<number> {
  for (;;) {
    const res = await fetch(`${url}/trpc/users.list`);
    await res.arrayBuffer();
    if (done(res.status)) return performance.now() - t0;
    // A gap keeps the probes from saturating the CPUs the instances run on.
    await new Promise((r) => setTimeout(r, POLL_GAP_MS));
  }
}

/** Arrival time of each state version pushed by each instance's watch stream. */
function watchFleet(clients: SwitchboardClient[]) {
  const arrivals = clients.map(() => new Map<number, number>());
  const waiters = new Set<() => void>();
  const subs = clients.map((client, i) =>
    client.emergency.watch.subscribe(undefined, {
      onData: (state) => {
        arrivals[i]!.set(state.version, performance.now());
        for (const w of waiters) w();
      },
    }),
  );
  return {
    /** When the last instance pushed `version` (waits for it). */
    async lastArrival(version: number): Promise<number> {
      const all = () => arrivals.every((m) => m.has(version));
      while (!all()) {
        await new Promise<void>((resolve) => {
          const w = () => {
            waiters.delete(w);
            resolve();
          };
          waiters.add(w);
        });
      }
      return Math.max(...arrivals.map((m) => m.get(version)!));
    },
    ready: () => arrivals.every((m) => m.size > 0),
    close: () => subs.forEach((s) => s.unsubscribe()),
  };
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const prefix = uniquePrefix("bench-emergency");
  const fleet: ApiProcess[] = [];
  try {
    process.stderr.write(`starting ${INSTANCES} API processes (PostgreSQL + Redis ${testRedisUrl()})…\n`);
    for (let i = 0; i < INSTANCES; i++) {
      fleet.push(await startApiProcess({ databaseUrl: db.url, redisUrl: testRedisUrl(), redisKeyPrefix: prefix, env: { LOG_LEVEL: "error" } }));
    }
    const token = (await createSwitchboardClient({ url: fleet[0]!.url }).auth.login.mutate(CLUSTER_SUPERADMIN)).accessToken;
    const clients = fleet.map((p) => createSwitchboardClient({ url: p.url, token }));
    const loadBefore = loadavg()[0]!;

    // Phase 1: pushed by each instance as it applies the state.
    const watch = watchFleet(clients);
    while (!watch.ready()) await new Promise((r) => setTimeout(r, 10));
    const watched: number[] = [];
    const watchedThaw: number[] = [];
    const calls: number[] = [];
    let partial = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const via = clients[cycle % INSTANCES]!;
      const t0 = performance.now();
      const frozen = await via.emergency.freeze.mutate({ reason: `bench cycle ${cycle}` });
      calls.push(performance.now() - t0);
      if (frozen.acknowledgedBy !== INSTANCES) partial++;
      watched.push((await watch.lastArrival(frozen.version)) - t0);
      const t1 = performance.now();
      const thawed = await via.emergency.unfreeze.mutate({});
      watchedThaw.push((await watch.lastArrival(thawed.version)) - t1);
      progress("watch", cycle, watched);
    }
    watch.close();

    // Phase 2: requests probing every instance while the freeze is in flight.
    const probed: number[] = [];
    const probedThaw: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const via = clients[cycle % INSTANCES]!;
      const t0 = performance.now();
      const pollers = fleet.map((p) => firstMatch(p.url, t0, (s) => s === 503));
      const frozen = await via.emergency.freeze.mutate({ reason: `bench probe cycle ${cycle}` });
      if (frozen.acknowledgedBy !== INSTANCES) partial++;
      probed.push(Math.max(...(await Promise.all(pollers))));
      const t1 = performance.now();
      const thawPollers = fleet.map((p) => firstMatch(p.url, t1, (s) => s === 401));
      await via.emergency.unfreeze.mutate({});
      probedThaw.push(Math.max(...(await Promise.all(thawPollers))));
      progress("probe", cycle, probed);
    }

    const load = `load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`;
    console.log(`Emergency stop propagation: ${INSTANCES} API processes on PostgreSQL + Redis, ${CYCLES} cycles per phase (${load})`);
    console.log(`  freeze sent → applied on every instance (watch push):    ${summary(watched)}`);
    console.log(`  unfreeze sent → applied on every instance (watch push):  ${summary(watchedThaw)}`);
    console.log(`  freeze sent → last instance rejecting (probe ~1 ms):     ${summary(probed)}`);
    console.log(`  unfreeze sent → last instance serving (probe ~1 ms):     ${summary(probedThaw)}`);
    console.log(`  freeze call round trip (auth, PostgreSQL, acks):         ${summary(calls)}`);
    console.log(`  freezes answered before every instance acknowledged:     ${partial}/${2 * CYCLES}`);
  } finally {
    await Promise.all(fleet.map((p) => p.stop()));
    await db.drop();
    await deleteKeysWithPrefix(prefix);
  }
}

await main();
