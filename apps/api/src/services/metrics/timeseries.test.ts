import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { createSketch } from "./sketch.ts";
import { RETENTION_MS, buildTimeseries, resolveRange } from "./timeseries.ts";

const NOW = Date.UTC(2030, 0, 1, 12, 0, 30);
const minute = (ms: number) => Math.floor(ms / 60_000) * 60_000;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("BAD_REQUEST");
    return (error as AppError).message;
  }
  throw new Error("expected a BAD_REQUEST");
}

describe("timeseries range", () => {
  it("defaults to the whole kept window, in whole minutes", () => {
    expect(resolveRange(undefined, NOW)).toEqual({ from: minute(NOW - RETENTION_MS), to: minute(NOW) });
    expect(resolveRange({ from: new Date(NOW - 5 * 60_000) }, NOW)).toEqual({ from: minute(NOW - 5 * 60_000), to: minute(NOW) });
  });

  it("tolerates a client clock a little behind (\"24 h ago\" computed a moment earlier)", () => {
    expect(resolveRange({ from: new Date(NOW - RETENTION_MS - 5_000) }, NOW).from).toBe(minute(NOW - RETENTION_MS));
  });

  it("refuses ranges outside the kept window", () => {
    expect(refusal(() => resolveRange({ from: new Date(NOW - RETENTION_MS - 3_600_000) }, NOW))).toMatch(/outside the kept window.*24 h/);
    expect(refusal(() => resolveRange({ to: new Date(NOW + 3_600_000) }, NOW))).toMatch(/future/);
    expect(refusal(() => resolveRange({ from: new Date(NOW - 60_000), to: new Date(NOW - 120_000) }, NOW))).toMatch(/after/);
    expect(refusal(() => resolveRange({ from: new Date(Number.NaN) }, NOW))).toMatch(/valid/);
  });
});

describe("timeseries points", () => {
  it("fills every minute, sums instances' rows and merges their sketches", () => {
    const start = minute(NOW) - 2 * 60_000;
    const sketch = (...values: number[]) => {
      const s = createSketch();
      values.forEach((v) => s.add(v));
      return s.toJSON();
    };
    const row = (provider: string, calls: number, failures: number, latencyMs: number, latencies: ReturnType<typeof sketch>[]) => ({
      minute: new Date(start), provider, calls, successes: calls - failures, failures, latencyMs, promptTokens: 3, completionTokens: 2, latencies,
    });
    const series = buildTimeseries({ from: start, to: start + 2 * 60_000 }, [
      row("beta", 3, 1, 600, [sketch(100, 200), sketch(300)]),
      row("template", 1, 0, 4, [sketch(4)]),
      row("_gateway", 4, 1, 700, []),
    ]);
    expect(series.buckets).toHaveLength(3);
    expect(series.buckets[0]).toMatchObject({ requests: 4, errors: 1, calls: 4, successes: 3, failures: 1, avgLatencyMs: 151, promptTokens: 6 });
    expect(series.buckets[0]!.providers).toEqual({
      beta: { calls: 3, successes: 2, failures: 1, avgLatencyMs: 200 },
      template: { calls: 1, successes: 1, failures: 0, avgLatencyMs: 4 },
    });
    expect(Math.abs(series.buckets[0]!.p95LatencyMs - 200) / 200).toBeLessThanOrEqual(0.01);
    expect(series.buckets[2]).toMatchObject({ requests: 0, calls: 0, avgLatencyMs: 0, providers: {} });
  });
});
