/**
 * Routing and live configuration, three numbers:
 *
 * 1. Propagation: providers.update on instance A → the change in force on instance B (two
 *    API processes on one PostgreSQL + Redis), p50/p99 over BENCH_CHANGES (100) changes.
 *    B is polled with providers.get (every 5 ms) from the moment the update is sent, so
 *    each figure is the apply time plus at most one poll interval and round trip.
 * 2. Weighted split: BENCH_REQUESTS (10,000) requests through a route weighted 5:3:2; the
 *    largest gap between a target's share and its weight's share.
 * 3. Routing overhead: the chain's own time per request through a 3-target weighted route
 *    vs the `auto` route (the fixed fallback chain), with in-memory providers that answer
 *    at once, so only Switchboard's work is measured.
 *
 *   npm run bench:routing        (needs PostgreSQL and Redis, like the integration tests)
 */
import { performance } from "node:perf_hooks";
import { createSwitchboardClient } from "@switchboard/client";
import { CLUSTER_SUPERADMIN, startApiProcess, type ApiProcess } from "../test/api-process.ts";
import { createTestDatabase } from "../test/database.ts";
import { startFakeOpenAI } from "../test/fake-openai-server.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "../test/redis.ts";
import { createCircuitBreaker } from "../src/services/gateway/circuit-breaker.ts";
import { createProviderChain } from "../src/services/gateway/provider-chain.ts";
import { createLiveRegistry } from "../src/services/gateway/registry.ts";
import type { GatewaySnapshot, ProviderConfig } from "../src/services/gateway/config-types.ts";
import type { ChatProvider } from "../src/providers/types.ts";
import { percentile, progress } from "./load.ts";

const CHANGES = Number(process.env.BENCH_CHANGES ?? 100);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const OVERHEAD_REQUESTS = Number(process.env.BENCH_OVERHEAD_REQUESTS ?? 50_000);

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function propagation(): Promise<void> {
  const db = await createTestDatabase();
  const prefix = uniquePrefix("bench-routing");
  const upstream = await startFakeOpenAI({ name: "beta" });
  const fleet: ApiProcess[] = [];
  try {
    const env = { BETA_MODEL_BASE_URL: upstream.url, PROVIDER_ORDER: "beta,template", LOG_LEVEL: "error" };
    for (let i = 0; i < 2; i++) fleet.push(await startApiProcess({ databaseUrl: db.url, redisUrl: testRedisUrl(), redisKeyPrefix: prefix, env }));
    const token = (await createSwitchboardClient({ url: fleet[0]!.url }).auth.login.mutate(CLUSTER_SUPERADMIN)).accessToken;
    const a = createSwitchboardClient({ url: fleet[0]!.url, token });
    const b = createSwitchboardClient({ url: fleet[1]!.url, token });
    const id = (await a.providers.list.query()).items.find((p) => p.name === "beta")!.id;
    const applied: number[] = [];
    const answered: number[] = [];
    let acknowledged = 0;
    for (let i = 0; i < CHANGES; i++) {
      const timeoutMs = 10_000 + i + 1;
      const t0 = performance.now();
      const update = a.providers.update.mutate({ id, timeoutMs }).then((r) => {
        answered.push(performance.now() - t0);
        if (r.acknowledgedBy === 2) acknowledged++;
      });
      for (;;) {
        const seen = await b.providers.get.query({ id });
        if (seen.timeoutMs === timeoutMs) break;
        // A short pause: polling flat out would take the CPU B needs to apply the change.
        await new Promise((r) => setTimeout(r, 5));
      }
      applied.push(performance.now() - t0);
      await update;
      progress(`propagation ${i + 1}/${CHANGES}`);
    }
    progress("");
    applied.sort((x, y) => x - y);
    answered.sort((x, y) => x - y);
    console.log(`providers.update on A → in force on B (${CHANGES} changes): p50 ${fmt(percentile(applied, 50))}, p99 ${fmt(percentile(applied, 99))}, max ${fmt(applied.at(-1)!)}`);
    console.log(`providers.update answer (written, applied, acknowledged by both): p50 ${fmt(percentile(answered, 50))}, p99 ${fmt(percentile(answered, 99))}; acknowledged by both instances: ${acknowledged}/${CHANGES}`);
  } finally {
    await Promise.all(fleet.map((p) => p.stop()));
    await upstream.close();
    await db.drop();
    await deleteKeysWithPrefix(prefix);
  }
}

/** A provider that answers at once, in memory. */
function instant(id: string): ChatProvider {
  return {
    id,
    kind: "openai-compatible",
    model: `${id}-model`,
    configured: true,
    baseUrl: null,
    complete: async (request) => ({ content: "ok", finishReason: "stop", model: request.model ?? id, usage: { promptTokens: 1, completionTokens: 1 } }),
    async *stream() {
      yield { type: "delta" as const, text: "ok" };
      yield { type: "finish" as const, reason: "stop" };
    },
  };
}

function snapshotOf(names: string[]): GatewaySnapshot {
  const at = new Date(0);
  const providers: ProviderConfig[] = names.map((name, position) => ({
    id: name, name, kind: "openai-compatible", baseUrl: null, apiKey: undefined, headers: {}, timeoutMs: null,
    models: [`${name}-model`], apiVersion: null, healthPath: null, source: "api", position, createdAt: at, updatedAt: at,
  }));
  const route = (name: string, weights: Array<number | null>) => ({
    name, targets: names.map((p, i) => ({ provider: p, upstreamModel: `${p}-model`, weight: weights[i] ?? null })),
    inputPricePerMTok: null, outputPricePerMTok: null, cachedInputPricePerMTok: null, cacheTtlSec: null, createdAt: at, updatedAt: at,
  });
  return { version: 1, providers, routes: [route("auto", [null, null, null]), route("weighted", [5, 3, 2])] };
}

async function inProcess(): Promise<void> {
  const names = ["p1", "p2", "p3"];
  const registry = createLiveRegistry(snapshotOf(names), { make: (config) => instant(config.name) });
  const chain = createProviderChain({ registry, breaker: createCircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000 }), timeoutMs: 30_000, idleTimeoutMs: 30_000 });
  const request = (model: string) => ({ messages: [{ role: "user" as const, content: "hi" }], model, signal: new AbortController().signal });

  const counts = new Map<string, number>();
  for (let i = 0; i < REQUESTS; i++) {
    const result = await chain.complete(request("weighted"));
    counts.set(result.provider, (counts.get(result.provider) ?? 0) + 1);
  }
  const weights = [5, 3, 2];
  const gaps = names.map((n, i) => Math.abs((counts.get(n) ?? 0) / REQUESTS - weights[i]! / 10));
  const shares = names.map((n, i) => `${n} ${(((counts.get(n) ?? 0) / REQUESTS) * 100).toFixed(2)}% (weight ${weights[i]! * 10}%)`).join(", ");
  console.log(`weighted split over ${REQUESTS} requests: ${shares}; largest error ${(Math.max(...gaps) * 100).toFixed(2)} points`);

  async function timePerRequest(model: string): Promise<number> {
    for (let i = 0; i < 2_000; i++) await chain.complete(request(model)); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < OVERHEAD_REQUESTS; i++) await chain.complete(request(model));
    return ((performance.now() - t0) * 1000) / OVERHEAD_REQUESTS;
  }
  // Alternate to spread machine noise over both.
  const fixed: number[] = [];
  const routed: number[] = [];
  for (let round = 0; round < 3; round++) {
    fixed.push(await timePerRequest("auto"));
    routed.push(await timePerRequest("weighted"));
  }
  const best = (xs: number[]) => Math.min(...xs);
  console.log(
    `chain time per request (best of 3 × ${OVERHEAD_REQUESTS}): fixed chain (auto) ${best(fixed).toFixed(2)} µs, 3-target weighted route ${best(routed).toFixed(2)} µs, difference ${(best(routed) - best(fixed)).toFixed(2)} µs`,
  );
}

await inProcess();
// BENCH_ONLY=in-process skips the two-process part (no PostgreSQL or Redis needed).
if (process.env.BENCH_ONLY !== "in-process") await propagation();
