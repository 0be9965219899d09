import { describe, expect, it } from "vitest";
import { judgeMemoryTrend, robustSlope, type MemoryPoint } from "./memory-trend.ts";

/** RSS of a healthy process under load: a sawtooth between major GCs around a flat floor. */
const sawtooth = (seconds: number, floor: number, leakMbPerMin = 0): MemoryPoint[] =>
  Array.from({ length: seconds / 10 }, (_, i) => {
    const atSec = i * 10;
    const phase = (i * 7) % 9; // heap fills for a while, then a major GC drops it
    return { atSec, mb: floor + phase * 14 + (leakMbPerMin * atSec) / 60 };
  });

const live = (seconds: number, mb: number, leakMbPerMin = 0, every = 20): MemoryPoint[] =>
  Array.from({ length: seconds / every }, (_, i) => ({ atSec: i * every, mb: mb + (i % 3) * 0.8 + (leakMbPerMin * i * every) / 60 }));

describe("memory trend on floors", () => {
  it("passes a flat process whose raw RSS is a sawtooth", () => {
    const rss = sawtooth(600, 215);
    expect(judgeMemoryTrend("instance 0", { live: live(600, 60), rss })).toEqual([]);
  });

  it("flags live heap that keeps growing after GC, even under a sawtooth", () => {
    const violations = judgeMemoryTrend("instance 0", { live: live(600, 60, 2), rss: sawtooth(600, 215) });
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/instance 0: live heap after GC grows 1\d\.\d MB over 580 s/);
  });

  it("flags an RSS floor that rises (native memory the heap does not see)", () => {
    const violations = judgeMemoryTrend("instance 1", { live: live(600, 60), rss: sawtooth(600, 215, 6) });
    expect(violations).toEqual([expect.stringMatching(/^instance 1: RSS floor rises 2\d\d → 2\d\d MB/)]);
  });

  it("is not tipped by one odd reading", () => {
    const points = live(600, 60);
    points[points.length - 1] = { atSec: points.at(-1)!.atSec, mb: 140 };
    expect(judgeMemoryTrend("instance 0", { live: points, rss: [] })).toEqual([]);
    expect(robustSlope([{ atSec: 0, mb: 1 }, { atSec: 10, mb: 2 }, { atSec: 20, mb: 3 }])).toBeCloseTo(0.1);
  });

  it("does not judge too few readings", () => {
    expect(judgeMemoryTrend("instance 0", { live: live(60, 60, 60).slice(0, 3), rss: sawtooth(50, 200, 600) })).toEqual([]);
  });
});
