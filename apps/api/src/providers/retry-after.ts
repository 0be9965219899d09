/**
 * The longest wait an upstream may impose: it keeps the provider out of chains that long and
 * is passed on to clients as Retry-After. An hour, as for a freeze; a larger figure (a day, a
 * date in year 9999, 1e25 ms) is read as this.
 */
export const MAX_UPSTREAM_WAIT_MS = 3_600_000;

/**
 * Reads how long an upstream asked us to wait, from `retry-after-ms` (OpenAI's precise
 * variant) or `retry-after` (seconds or an HTTP date), read through `header` (any header
 * store), at most MAX_UPSTREAM_WAIT_MS. Undefined when absent or unusable.
 */
export function retryAfterMsOf(header: (name: string) => string | null | undefined, now: number = Date.now()): number | undefined {
  const ms = askedWaitMs(header, now);
  return ms === undefined ? undefined : Math.min(ms, MAX_UPSTREAM_WAIT_MS);
}

function askedWaitMs(header: (name: string) => string | null | undefined, now: number): number | undefined {
  const precise = header("retry-after-ms");
  const ms = Number(precise);
  if (precise !== null && precise !== undefined && precise.trim() !== "" && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = header("retry-after");
  if (raw === null || raw === undefined || raw.trim() === "") return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
