/**
 * Reads how long an upstream asked us to wait, from `retry-after-ms` (OpenAI's precise
 * variant) or `retry-after` (seconds or an HTTP date), read through `header` (any header
 * store). Undefined when absent or unusable.
 */
export function retryAfterMsOf(header: (name: string) => string | null | undefined, now: number = Date.now()): number | undefined {
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
