import { describe, expect, it } from "vitest";
import type { TEmergencyStatus } from "@switchboard/schema";
import type { ProviderCallRecord } from "../gateway/chain-types.ts";
import { createInstanceMetrics } from "./instance-metrics.ts";
import type { CircuitView } from "./snapshot.ts";
import { buildSummary } from "./summary.ts";

const NOW = Date.UTC(2030, 0, 1, 12, 0, 30);
const EMERGENCY: TEmergencyStatus = { active: false, scope: "global", reason: null, activatedAt: null, activatedBy: null, expiresAt: null, version: 0 };

function instance(id: string, circuits: Record<string, CircuitView> = {}) {
  return createInstanceMetrics(
    { id, host: `host-${id}`, pid: 1, version: "1.0.0", startedAt: new Date(NOW - 60_000).toISOString() },
    { circuits: () => circuits, now: () => NOW },
  );
}

const record = (provider: ProviderCallRecord["provider"], outcome: ProviderCallRecord["outcome"], latencyMs: number, extra: Partial<ProviderCallRecord> = {}): ProviderCallRecord => ({
  provider,
  model: "m",
  mode: "complete",
  outcome,
  latencyMs,
  ttftMs: undefined,
  promptTokens: outcome === "success" ? 10 : undefined,
  completionTokens: outcome === "success" ? 5 : undefined,
  fallback: false,
  status: undefined,
  error: undefined,
  at: NOW,
  ...extra,
});

const live = (...ids: string[]) => ids.map((id) => ({ id, startedAt: new Date(NOW - 60_000).toISOString(), lastSeenAt: new Date(NOW).toISOString(), meta: {} }));

describe("cluster summary", () => {
  it("sums counters over instances and keeps the legacy ai.<provider> shape", () => {
    const a = instance("a");
    const b = instance("b");
    a.recordCall(record("beta", "success", 100));
    a.recordCall(record("beta", "http_error", 20, { status: 500 }));
    b.recordCall(record("beta", "success", 300, { mode: "stream", ttftMs: 40 }));
    b.recordCall(record("template", "success", 1, { fallback: true }), "beta");
    b.recordCall(record("beta", "aborted", 7));

    const s = buildSummary({ snapshots: [a.snapshot(), b.snapshot()], live: live("a", "b"), activeProviders: ["beta", "template"], emergency: EMERGENCY, partial: false, now: NOW });
    expect(s.ai["beta"]).toMatchObject({
      calls: 4,
      successes: 2,
      failures: 1,
      aborted: 1,
      successRate: 66.67,
      totalTime: 0.427,
      avgTime: 0.107,
      promptTokens: 20,
      completionTokens: 10,
      fallbacksFrom: 1,
      circuit: "closed",
      active: true,
      outcomes: { success: 2, http_error: 1, aborted: 1 },
    });
    // Exact samples 7, 20, 100, 300: p50 is the 2nd (rank ⌊0.5·3⌋ = 1), p99 the 3rd, within 1 %.
    expect(Math.abs(s.ai["beta"]!.p50 - 20) / 20).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.ai["beta"]!.p99 - 100) / 100).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.ai["beta"]!.ttftP50 - 40) / 40).toBeLessThanOrEqual(0.01);
    expect(s.ai["template"]).toMatchObject({ calls: 1, successRate: 100 });
    expect(s.instances.map((i) => [i.id, i.calls, i.live])).toEqual([["a", 2, true], ["b", 3, true]]);
    expect(s.upstream).toMatchObject({ calls: 5, successes: 3, failures: 1, successRate: 75 });
  });

  it("keeps a dead instance's counters but not its gauges", () => {
    const alive = instance("alive");
    const dead = instance("dead", { beta: { state: "open", retryAt: NOW + 10_000 } });
    dead.recordCall(record("beta", "timeout", 30_000));
    dead.streamOpened();
    dead.recordRequest({ durationMs: 30_000, overheadMs: 2, errorCode: "UPSTREAM_ERROR", at: NOW - 5_000 });
    alive.recordRequest({ durationMs: 10, overheadMs: 1, errorCode: undefined, at: NOW - 70_000 });

    const s = buildSummary({ snapshots: [alive.snapshot(), dead.snapshot()], live: live("alive"), activeProviders: ["beta"], emergency: EMERGENCY, partial: false, now: NOW });
    expect(s.ai["beta"]!.calls).toBe(1);
    expect(s.ai["beta"]!.circuit).toBe("closed"); // the dead instance's breaker no longer matters
    expect(s.activeStreams).toBe(0);
    expect(s.requests).toEqual({ total: 2, errors: 1 });
    expect(s.errorsByCode).toEqual({ UPSTREAM_ERROR: 1 });
    expect(s.requestsPerMinute).toBe(1); // the other request is older than 60 s
    expect(s.liveInstances).toBe(1);
    expect(s.instances.find((i) => i.id === "dead")).toMatchObject({ live: false, activeStreams: 0, errors: 1 });
  });

  it("sums what the response cache did over every instance, an older instance's snapshot without it counting none", () => {
    const a = instance("a");
    const b = instance("b");
    for (const cacheResult of ["hit", "hit", "miss", undefined] as const) a.recordRequest({ durationMs: 5, overheadMs: 1, errorCode: undefined, at: NOW, cacheResult, cacheSavedUsd: cacheResult === "hit" ? 0.25 : 0 });
    b.recordRequest({ durationMs: 5, overheadMs: 1, errorCode: undefined, at: NOW, cacheResult: "refresh" });
    const { cache: _none, ...older } = instance("older").snapshot();
    const s = buildSummary({ snapshots: [a.snapshot(), b.snapshot(), older], live: live("a", "b", "older"), activeProviders: [], emergency: EMERGENCY, partial: false, now: NOW });
    expect(s.cache).toEqual({ hits: 2, misses: 1, refreshes: 1, hitRate: 50, savedUsd: 0.5 });
    expect(s.requests.total).toBe(5);
  });

  it("reports the most severe circuit among live instances; an expired open circuit reads half_open", () => {
    const a = instance("a", { beta: { state: "half_open", retryAt: null } });
    const b = instance("b", { beta: { state: "open", retryAt: NOW + 1_000 } });
    const c = instance("c", { beta: { state: "open", retryAt: NOW - 1 } });
    const summary = (ids: string[]) =>
      buildSummary({ snapshots: [a, b, c].map((m) => m.snapshot()), live: live(...ids), activeProviders: ["beta"], emergency: EMERGENCY, partial: false, now: NOW });
    expect(summary(["a", "b", "c"]).ai["beta"]!.circuit).toBe("open");
    expect(summary(["a", "c"]).ai["beta"]!.circuit).toBe("half_open");
  });

  it("lists a live instance that has not published yet, and answers zeros for an idle provider", () => {
    const s = buildSummary({ snapshots: [], live: [{ id: "new", startedAt: new Date(NOW).toISOString(), lastSeenAt: new Date(NOW).toISOString(), meta: { host: "h", pid: 7, version: "v" } }], activeProviders: ["ollama"], emergency: EMERGENCY, partial: false, now: NOW });
    expect(s.instances).toEqual([expect.objectContaining({ id: "new", host: "h", pid: 7, live: true, calls: 0 })]);
    expect(s.ai["ollama"]).toMatchObject({ calls: 0, successRate: 0, avgTime: 0, p50: 0, p99: 0 });
  });

  it("per-minute rows carry absolute values and are forgotten once a finished minute is stored", () => {
    let now = NOW;
    const m = createInstanceMetrics({ id: "x", host: "h", pid: 1, version: "v", startedAt: "" }, { circuits: () => ({}), now: () => now });
    m.recordCall(record("beta", "success", 50));
    m.recordRequest({ durationMs: 60, overheadMs: 10, errorCode: undefined, at: NOW });
    const first = m.pendingMinutes();
    expect(first.rows.map((r) => [r.provider, r.calls])).toEqual([["beta", 1], ["_gateway", 1]]);
    first.commit();
    expect(m.pendingMinutes().rows).toEqual([]);
    m.recordCall(record("beta", "timeout", 70));
    expect(m.pendingMinutes().rows.find((r) => r.provider === "beta")).toMatchObject({ calls: 2, successes: 1, failures: 1, latencyMs: 120 });
    now += 60_000;
    m.pendingMinutes().commit();
    expect(m.pendingMinutes().rows).toEqual([]);
  });
});
