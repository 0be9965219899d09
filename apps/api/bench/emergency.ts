/**
 * Emergency-stop propagation benchmark: `npm run bench:emergency`.
 *
 * Starts three API processes sharing PostgreSQL and Redis, then runs many freeze/unfreeze
 * cycles. Measured from outside, like a client would see it: while the freeze call is in
 * flight, one poller per instance sends a request about every millisecond; an instance counts as
 * rejecting when a response comes back 503 EMERGENCY_STOP. Propagation is the time from
 * sending the freeze call to the *last* instance's first 503 response (an upper bound: the
 * instance applied it somewhere inside that request). The same is measured for unfreezes.
 *
 * Env: BENCH_CYCLES (default 300), TEST_DATABASE_URL, REDIS_URL (defaults: local services).
 */
import { createSwitchboardClient } from "@switchboard/client";
import { CLUSTER_SUPERADMIN, startApiProcess, type ApiProcess } from "../test/api-process.ts";
import { createTestDatabase } from "../test/database.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "../test/redis.ts";

const CYCLES = Number(process.env.BENCH_CYCLES ?? 300);
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

/**
 * Polls one instance until `done(status)` holds; returns when (ms since `t0`) the first
 * matching response arrived. The probe is an anonymous call to a non-allowlisted procedure:
 * 401 while serving, 503 while frozen (the guard runs before any role check), so it costs
 * the instance no database or Redis work and measures only the guard's view.
 */
async function firstMatch(url: string, t0: number, done: (status: number) => boolean): Promise<number> {
  for (;;) {
    const res = await fetch(`${url}/trpc/users.list`);
    await res.arrayBuffer();
    if (done(res.status)) return performance.now() - t0;
    // ~1 ms between probes: fine resolution without the probes themselves saturating the
    // CPUs the instances run on (which would measure the probes, not the propagation).
    await new Promise((r) => setTimeout(r, POLL_GAP_MS));
  }
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

    const freezeProp: number[] = [];
    const freezeCall: number[] = [];
    const unfreezeProp: number[] = [];
    let partial = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const via = clients[cycle % INSTANCES]!;

      const t0 = performance.now();
      const pollers = fleet.map((p) => firstMatch(p.url, t0, (s) => s === 503));
      const answer = await via.emergency.freeze.mutate({ reason: `bench cycle ${cycle}` });
      freezeCall.push(performance.now() - t0);
      if (answer.acknowledgedBy !== INSTANCES) partial++;
      freezeProp.push(Math.max(...(await Promise.all(pollers))));

      const t1 = performance.now();
      const thawed = fleet.map((p) => firstMatch(p.url, t1, (s) => s === 401));
      await via.emergency.unfreeze.mutate({});
      unfreezeProp.push(Math.max(...(await Promise.all(thawed))));

      if (cycle % 10 === 9 || cycle === CYCLES - 1) {
        const s = [...freezeProp].sort((a, b) => a - b);
        process.stderr.write(`\rcycle ${cycle + 1}/${CYCLES} · freeze→last rejecting p50 ${percentile(s, 50).toFixed(1)} ms p99 ${percentile(s, 99).toFixed(1)} ms   `);
      }
    }
    process.stderr.write("\n");
    console.log(`Emergency stop propagation, ${INSTANCES} instances (processes) on PostgreSQL + Redis, ${CYCLES} cycles`);
    console.log(`  freeze call → last instance rejecting:  ${summary(freezeProp)}`);
    console.log(`  freeze call round trip (incl. acks):    ${summary(freezeCall)}`);
    console.log(`  unfreeze call → last instance serving:  ${summary(unfreezeProp)}`);
    console.log(`  freezes answered before every instance acknowledged: ${partial}/${CYCLES}`);
  } finally {
    await Promise.all(fleet.map((p) => p.stop()));
    await db.drop();
    await deleteKeysWithPrefix(prefix);
  }
}

await main();
