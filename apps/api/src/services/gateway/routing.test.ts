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
  inputPricePerMTok: 1.5, outputPricePerMTok: null, cachedInputPricePerMTok: null, createdAt: at, updatedAt: at,
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
});
