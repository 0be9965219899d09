import { describe, expect, it } from "vitest";
import { createTemplateProvider } from "../../providers/template.ts";
import { createCircuitBreaker } from "./circuit-breaker.ts";
import type { GatewaySnapshot, ProviderConfig } from "./config-types.ts";
import { createProviderChain } from "./provider-chain.ts";
import { createLiveRegistry } from "./registry.ts";

const at = new Date(0);
const provider = (name: string, position: number): ProviderConfig => ({
  id: name, name, kind: "template", baseUrl: null, apiKey: undefined, headers: {}, timeoutMs: null,
  models: [], apiVersion: null, healthPath: null, source: "api", position, createdAt: at, updatedAt: at,
});
const route = (name: string, targets: Array<[string, number | null]>) => ({
  name, targets: targets.map(([p, weight]) => ({ provider: p, upstreamModel: `${p}-m`, weight })),
  inputPricePerMTok: 1.5, outputPricePerMTok: null, cachedInputPricePerMTok: null, cacheTtlSec: null, createdAt: at, updatedAt: at,
});

function setup(random: () => number) {
  const snapshot: GatewaySnapshot = {
    version: 1,
    providers: ["t1", "t2", "t3"].map(provider),
    routes: [route("auto", [["t1", null], ["t2", null]]), route("split", [["t1", 5], ["t2", 3], ["t3", 2]]), route("mixed", [["t1", null], ["t2", 1], ["t3", 1]])],
  };
  // Real offline providers under three names: no upstream needed to watch the routing.
  const registry = createLiveRegistry(snapshot, { make: (c) => createTemplateProvider({ id: c.name }) });
  const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
  const chain = createProviderChain({ registry, breaker, timeoutMs: 5_000, idleTimeoutMs: 5_000, random });
  const ask = (model: string) => chain.complete({ messages: [{ role: "user", content: "hi" }], model, signal: new AbortController().signal });
  return { registry, breaker, ask };
}

describe("weighted routes", () => {
  it("draws one weighted target by weight, the rest follow in order", async () => {
    expect((await setup(() => 0.1).ask("split")).provider).toBe("t1");
    expect((await setup(() => 0.55).ask("split")).provider).toBe("t2");
    expect((await setup(() => 0.95).ask("split")).provider).toBe("t3");
  });

  it("leaves unhealthy targets out of the draw", async () => {
    const { breaker, ask } = setup(() => 0.55);
    breaker.recordFailure("t2");
    // t2's circuit is open: the draw is among t1 (5) and t3 (2); 0.55 × 7 = 3.85 → t1.
    expect((await ask("split")).provider).toBe("t1");
  });

  it("unweighted targets are fallback only; a route without weights is plain order", async () => {
    expect((await setup(() => 0.1).ask("mixed")).provider).toBe("t2");
    expect((await setup(() => 0.9).ask("mixed")).provider).toBe("t3");
    expect((await setup(() => 0.9).ask("auto")).provider).toBe("t1");
  });

  it("splits traffic by the weights", async () => {
    const { ask } = setup(Math.random);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 4_000; i++) {
      const p = (await ask("split")).provider;
      counts[p] = (counts[p] ?? 0) + 1;
    }
    // 5:3:2; a loose bound (4,000 draws: one standard deviation is under 1 point).
    expect(Math.abs(counts.t1! / 4_000 - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(counts.t2! / 4_000 - 0.3)).toBeLessThan(0.05);
    expect(Math.abs(counts.t3! / 4_000 - 0.2)).toBeLessThan(0.05);
  });

  it("prices come from the route, synchronously; a newer snapshot replaces routes whole", () => {
    const { registry } = setup(Math.random);
    expect(registry.priceOf("split")).toEqual({ inputPerMTok: 1.5, outputPerMTok: 0, cachedInputPerMTok: null });
    expect(registry.priceOf("nope")).toBeNull();
    const before = registry.get("t1");
    expect(registry.apply({ ...registry.snapshot(), version: 1 })).toBe(false);
    expect(registry.apply({ ...registry.snapshot(), version: 2, routes: [route("auto", [["t3", null]])] })).toBe(true);
    expect(registry.chain().map((p) => p.id)).toEqual(["t3"]);
    expect(registry.route("split")).toBeUndefined();
    // Unchanged providers keep their objects (and connections).
    expect(registry.get("t1")).toBe(before);
  });

  it("bills a call at its route's prices, else at the priced route that sends that provider that model", () => {
    const unpriced = (name: string, targets: Array<[string, number | null]>) => ({ ...route(name, targets), inputPricePerMTok: null });
    const registry = createLiveRegistry(
      {
        version: 1,
        providers: ["t1", "t2", "t3"].map(provider),
        routes: [unpriced("auto", [["t1", null], ["t2", null]]), route("gold", [["t1", null]]), route("t3-m", [["t3", null]])],
      },
      { make: (c) => createTemplateProvider({ id: c.name }) },
    );
    expect(registry.route("gold")!.targets.map((t) => t.pricedAs)).toEqual(["gold"]);
    // `auto` has no prices: its t1 target costs what t1's model costs through `gold`; t2's, nothing.
    expect(registry.route("auto")!.targets.map((t) => t.pricedAs)).toEqual(["gold", undefined]);
    // Outside any route (a pinned provider, a client's own model name).
    expect(registry.pricedAs("t1", "t1-m")).toBe("gold");
    expect(registry.pricedAs("t3", "t3-m")).toBe("t3-m");
    expect(registry.pricedAs("t2", "t3-m")).toBe("t3-m");
    expect(registry.pricedAs("t2", "t2-m")).toBeUndefined();
  });

  it("of two priced routes with one target, the dearer bills calls outside them; a priced `auto` is the default", () => {
    const priced = (name: string, targets: Array<[string, number | null]>, input: number) => ({ ...route(name, targets), inputPricePerMTok: input });
    const registry = createLiveRegistry(
      {
        version: 1,
        providers: ["t1", "t2"].map(provider),
        routes: [priced("auto", [["t2", null]], 0.5), priced("bronze", [["t1", null]], 1), priced("gold", [["t1", null]], 9), priced("tin", [["t1", null]], 2)],
      },
      { make: (c) => createTemplateProvider({ id: c.name }) },
    );
    expect(registry.pricedAs("t1", "t1-m")).toBe("gold");
    // Through a route, that route's own prices, whichever is dearer.
    expect(registry.route("bronze")!.targets[0]!.pricedAs).toBe("bronze");
    // A model no route prices: the default — except for embeddings (auto's prices are a chat model's).
    expect(registry.pricedAs("t1", "some-other-model")).toBe("auto");
    expect(registry.pricedAs("t1", "some-other-model", false)).toBeUndefined();
  });
});
