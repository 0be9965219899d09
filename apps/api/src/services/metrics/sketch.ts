/**
 * A mergeable latency sketch with a relative-error guarantee (the DDSketch construction,
 * Masson et al., VLDB 2019). Values are counted in logarithmic buckets: bucket i holds
 * (γ^(i-1), γ^i] with γ = (1+α)/(1-α), and is reported as 2γ^i/(γ+1). Any value in the
 * bucket is then within α of that representative, so a quantile read from the sketch is
 * within ±α (relative) of the exact sample at that rank. Merging adds counts bucket by
 * bucket, which is exact: a cluster-wide p99 merged from every instance's sketch has the
 * same ±α bound as one sketch that saw every call. Fixed Prometheus buckets could not say
 * that (their error is the bucket's width).
 *
 * α = 1 %: sub-50 ms latencies get a bucket per millisecond, a 10-minute call one of ~670
 * buckets; only buckets that were hit are stored.
 */
export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
/** Values at or below this count as zero (sub-microsecond; latencies are whole ms anyway). */
const MIN_VALUE = 1e-3;
/** Larger values are clamped here (≈ 28 h in ms) so a corrupt input cannot grow the map. */
const MAX_VALUE = 1e8;

/** Serialisable form: the zero count and the hit buckets as index → count. */
export interface SketchData {
  zero: number;
  bins: Record<string, number>;
}

export interface Sketch {
  add(value: number, times?: number): void;
  merge(other: SketchData): void;
  count(): number;
  /** q in [0, 1]; 0 when empty. */
  quantile(q: number): number;
  toJSON(): SketchData;
}

const indexOf = (value: number) => Math.ceil(Math.log(Math.min(value, MAX_VALUE)) / LOG_GAMMA);
const valueOf = (index: number) => (2 * GAMMA ** index) / (GAMMA + 1);

export function createSketch(from?: SketchData): Sketch {
  let zero = 0;
  let total = 0;
  const bins = new Map<number, number>();

  const sketch: Sketch = {
    add(value, times = 1) {
      if (!(times > 0) || Number.isNaN(value)) return;
      total += times;
      if (value <= MIN_VALUE) {
        zero += times;
        return;
      }
      const i = indexOf(value);
      bins.set(i, (bins.get(i) ?? 0) + times);
    },
    merge(other) {
      if (other.zero > 0) {
        zero += other.zero;
        total += other.zero;
      }
      for (const [key, n] of Object.entries(other.bins)) {
        const i = Number(key);
        if (!Number.isInteger(i) || !(n > 0)) continue;
        bins.set(i, (bins.get(i) ?? 0) + n);
        total += n;
      }
    },
    count: () => total,
    quantile(q) {
      if (total === 0) return 0;
      // The sample at 0-based rank ⌊q·(n−1)⌋ (the "lower" quantile, as DDSketch defines it).
      const rank = Math.floor(Math.min(1, Math.max(0, q)) * (total - 1));
      if (rank < zero) return 0;
      let seen = zero;
      for (const i of [...bins.keys()].sort((a, b) => a - b)) {
        seen += bins.get(i)!;
        if (seen > rank) return valueOf(i);
      }
      return valueOf(Math.max(...bins.keys()));
    },
    toJSON() {
      const out: Record<string, number> = {};
      for (const [i, n] of bins) out[i] = n;
      return { zero, bins: out };
    },
  };
  if (from) sketch.merge(from);
  return sketch;
}

/** Merges serialised sketches without keeping them. */
export function mergeSketches(parts: Iterable<SketchData | undefined>): Sketch {
  const merged = createSketch();
  for (const part of parts) if (part) merged.merge(part);
  return merged;
}
