import { describe, expect, it } from "vitest";
import { RELATIVE_ACCURACY, createSketch, mergeSketches } from "./sketch.ts";

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The exact sample at the rank the sketch promises to approximate. */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

const QUANTILES = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

describe("latency sketch", () => {
  it("is empty-safe", () => {
    const s = createSketch();
    expect(s.count()).toBe(0);
    expect(s.quantile(0.5)).toBe(0);
  });

  it("keeps every quantile within the relative-accuracy bound on a heavy-tailed distribution", () => {
    const next = random(42);
    const values: number[] = [];
    const s = createSketch();
    for (let i = 0; i < 20_000; i++) {
      // Log-normal-ish latencies from ~1 ms to minutes, rounded like the chain rounds them.
      const v = Math.round(Math.exp(next() * 12));
      values.push(v);
      s.add(v);
    }
    values.sort((a, b) => a - b);
    for (const q of QUANTILES) {
      const exact = exactQuantile(values, q);
      const estimate = s.quantile(q);
      if (exact === 0) expect(estimate).toBe(0);
      else expect(Math.abs(estimate - exact) / exact, `q=${q}`).toBeLessThanOrEqual(RELATIVE_ACCURACY + 1e-12);
    }
  });

  it("merging sketches equals one sketch that saw every value (the cluster-wide guarantee)", () => {
    const next = random(7);
    const parts = [createSketch(), createSketch(), createSketch()];
    const whole = createSketch();
    const values: number[] = [];
    for (let i = 0; i < 9_000; i++) {
      const v = Math.round(5 + next() * (i % 3 === 0 ? 5_000 : 200));
      parts[i % 3]!.add(v);
      whole.add(v);
      values.push(v);
    }
    // Through JSON, as snapshots travel through Redis and PostgreSQL.
    const merged = mergeSketches(parts.map((p) => JSON.parse(JSON.stringify(p.toJSON()))));
    values.sort((a, b) => a - b);
    expect(merged.count()).toBe(9_000);
    for (const q of QUANTILES) {
      expect(merged.quantile(q)).toBe(whole.quantile(q));
      const exact = exactQuantile(values, q);
      expect(Math.abs(merged.quantile(q) - exact) / exact).toBeLessThanOrEqual(RELATIVE_ACCURACY + 1e-12);
    }
  });

  it("counts zeros and ignores garbage in a merged payload", () => {
    const s = createSketch();
    s.add(0, 3);
    s.add(10);
    s.merge({ zero: 1, bins: { nope: 5, "3": -2 } });
    expect(s.count()).toBe(5);
    expect(s.quantile(0.5)).toBe(0);
    expect(s.quantile(1)).toBeCloseTo(10, 0);
  });
});
