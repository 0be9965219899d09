/**
 * Does memory grow over a long run? Judged on floors, not on raw RSS: between two major
 * garbage collections a healthy process's heap fills with garbage, so RSS is a sawtooth
 * whose samples land high or low by phase, and comparing medians of raw samples both misses
 * slow leaks and flags healthy runs. Two floors are judged instead:
 *
 * - the live heap right after a forced full GC (heapUsed + external): exact for what
 *   JavaScript keeps, Buffers and ArrayBuffers included; its slope (Theil–Sen: the median of
 *   the slopes between every pair of readings, so one odd reading cannot tip it) times the
 *   span is the growth;
 * - the RSS floor: the lowest RSS of the first and of the last third of the run, which
 *   catches native memory the heap does not see.
 */
export interface MemoryPoint {
  atSec: number;
  mb: number;
}

/** Median of the slopes between every pair of points (MB per second). */
export function robustSlope(points: readonly MemoryPoint[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dt = points[j]!.atSec - points[i]!.atSec;
      if (dt > 0) slopes.push((points[j]!.mb - points[i]!.mb) / dt);
    }
  }
  if (slopes.length === 0) return 0;
  slopes.sort((a, b) => a - b);
  const mid = Math.floor(slopes.length / 2);
  return slopes.length % 2 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

const median = (values: readonly number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export interface TrendLimits {
  /** Live heap growth allowed over the judged span: the larger of MB and a fraction of its median. */
  liveMb: number;
  liveFraction: number;
  /** RSS floor growth allowed (last third vs first third): the larger of MB and a fraction. */
  rssMb: number;
  rssFraction: number;
}

export const DEFAULT_TREND_LIMITS: TrendLimits = { liveMb: 8, liveFraction: 0.1, rssMb: 32, rssFraction: 0.15 };

/**
 * Violations (empty when flat) for one process: `live` are post-GC readings, `rss` raw RSS
 * samples, both already restricted to the span worth judging (after warm-up, outside
 * deliberate bursts).
 */
export function judgeMemoryTrend(
  name: string,
  series: { live: readonly MemoryPoint[]; rss: readonly MemoryPoint[] },
  limits: TrendLimits = DEFAULT_TREND_LIMITS,
): string[] {
  const violations: string[] = [];
  const { live, rss } = series;
  if (live.length >= 4) {
    const span = live.at(-1)!.atSec - live[0]!.atSec;
    const growth = robustSlope(live) * span;
    const typical = median(live.map((p) => p.mb));
    if (growth > Math.max(limits.liveMb, typical * limits.liveFraction)) {
      violations.push(`${name}: live heap after GC grows ${growth.toFixed(1)} MB over ${span.toFixed(0)} s (${live[0]!.mb.toFixed(0)} → ${live.at(-1)!.mb.toFixed(0)} MB)`);
    }
  }
  const third = Math.floor(rss.length / 3);
  if (third >= 2) {
    const first = Math.min(...rss.slice(0, third).map((p) => p.mb));
    const last = Math.min(...rss.slice(-third).map((p) => p.mb));
    if (last - first > Math.max(limits.rssMb, first * limits.rssFraction)) {
      violations.push(`${name}: RSS floor rises ${first.toFixed(0)} → ${last.toFixed(0)} MB (lowest of the first vs the last third)`);
    }
  }
  return violations;
}
