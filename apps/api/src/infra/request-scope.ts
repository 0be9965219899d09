/**
 * What one request learns about itself as it runs: the tRPC context notes the user, the
 * procedure middleware the procedure and error code, the provider chain's call records the
 * upstream calls. The HTTP telemetry hooks read it to set `x-switchboard-overhead-ms` and to
 * write the request's single log line and metrics.
 *
 * The scope is handed down explicitly (the Fastify request, the tRPC context, a chain
 * request), not carried by AsyncLocalStorage: on Node 20 one AsyncLocalStorage.run turns on
 * promise hooks for the whole process, which cost about a quarter of a millisecond per
 * request in benchmarks. Every note takes the scope it may be missing (a test calling a
 * service directly, a call made outside any request) and is then a no-op.
 */
import { performance } from "node:perf_hooks";
import { CHAT_LIMITS } from "@switchboard/schema";

export interface UpstreamCall {
  provider: string;
  outcome: string;
  fallback: boolean;
  /** performance.now() clock. */
  start: number;
  end: number;
  /** The upstream model, tokens and time to first token, when the call reported them (request log). */
  model?: string | undefined;
  /** The route whose prices the call is billed at. */
  pricedAs?: string | undefined;
  promptTokens?: number | undefined;
  completionTokens?: number | undefined;
  cachedTokens?: number | undefined;
  ttftMs?: number | undefined;
}

/** What the response cache did for a request that used it (see RequestScope.cacheResult). */
export type CacheResult = "hit" | "miss" | "refresh";

export interface RequestScope {
  readonly requestId: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** chat.*, consensus.* or /v1/*: gets the overhead header and gateway metrics. */
  readonly gateway: boolean;
  userId: string | undefined;
  /** The API key the caller authenticated with, if any. */
  keyId: string | undefined;
  /** The model name the client asked for (route name, e.g. "auto"). */
  model: string | undefined;
  /** The caller's labels for this request (x-switchboard-tags), for its request-log row. */
  tags: readonly string[] | undefined;
  /** The tags of the API key the caller authenticated with (the last one resolved), for the same row, ahead of the request's. */
  keyTags: readonly string[] | undefined;
  /** The request's tags refused as another's (a keys-only tag budget's, without its key): kept out of its row. */
  refusedTags: readonly string[] | undefined;
  /**
   * What the response cache did for a request that used it: `hit` (answered from it, no
   * provider called), `miss`, or `refresh` (a provider answered because the request said so).
   */
  cacheResult: CacheResult | undefined;
  /** What a cache hit's answer would have cost from a provider, at the prices a call would have been billed at (USD). */
  cacheSavedUsd: number;
  procedures: string[];
  /** The first error code the client was given (procedure error or stream error event). */
  errorCode: string | undefined;
  calls: UpstreamCall[];
  /** When the transport handed the request to the provider chain (streams: see markUpstreamStart). */
  upstreamOpenedAt: number | undefined;
  /** Set once the response turned out to be a stream (SSE). */
  stream: boolean;
  /**
   * The response body, kept only when the request log stores bodies. A stream's is a
   * function: what the client received so far, assembled when the log row is written.
   */
  responseBody?: string | (() => string | undefined) | undefined;
  /** The rate limit this request was counted against, for x-ratelimit-* headers. */
  rateLimit: RateLimitNote | undefined;
  /** The budgets this request holds a place in flight under (services/keys), until it ends. */
  budgetHolds: BudgetHold[] | undefined;
  /** The request ended and gave its budget places back (see holdUntilEnd). */
  budgetsSettled: boolean;
  /** Upstream calls started and not yet booked (see afterCalls). */
  openCalls: number;
  /** The request's end, waiting for its open calls (afterCalls). */
  onCallsEnded: (() => void) | undefined;
}

/** A place in flight under a budget, given back with the request's cost (undefined: it never ran). */
export interface BudgetHold {
  readonly subject: string;
  release(costUsd: number | undefined): void;
}

export interface RateLimitNote {
  limit: number;
  remaining: number;
  resetMs: number;
}

export function newScope(requestId: string, gateway: boolean, startedAt = performance.now()): RequestScope {
  return { requestId, startedAt, gateway, userId: undefined, keyId: undefined, model: undefined, tags: undefined, keyTags: undefined, refusedTags: undefined, cacheResult: undefined, cacheSavedUsd: 0, procedures: [], errorCode: undefined, calls: [], upstreamOpenedAt: undefined, stream: false, rateLimit: undefined, budgetHolds: undefined, budgetsSettled: false, openCalls: 0, onCallsEnded: undefined };
}

/** A note's target: undefined outside a request, where every note is a no-op. */
type Scope = RequestScope | undefined;

/**
 * How long a request's end waits for its upstream calls to be booked. They always end (the
 * chain times every call, and a client that left aborts them); this only bounds a stream
 * whose reader dropped it without ending it.
 */
export const CALLS_END_WAIT_MS = 10_000;

export function callStarted(scope: Scope): void {
  if (scope) scope.openCalls++;
}

export function callEnded(scope: Scope): void {
  if (!scope) return;
  scope.openCalls--;
  if (scope.openCalls === 0) scope.onCallsEnded?.();
}

/**
 * Runs `end` once the request's upstream calls are booked: at once, or — when the response
 * closed first (the client left mid-stream; its call learns of it a moment later) — when the
 * last one is, so the request's record and its cost include what that call produced.
 */
export function afterCalls(scope: RequestScope, end: () => void): void {
  if (scope.openCalls <= 0) return end();
  let ended = false;
  const once = () => {
    if (ended) return;
    ended = true;
    clearTimeout(bound);
    scope.onCallsEnded = undefined;
    end();
  };
  const bound = setTimeout(once, CALLS_END_WAIT_MS);
  bound.unref();
  scope.onCallsEnded = once;
}

/**
 * Keeps budget places until the request ends (a tRPC batch may add some per call). A request
 * that already ended — the client left while it was being admitted — gives them back at once,
 * unused: nothing would settle them later.
 */
export function holdUntilEnd(scope: RequestScope, holds: readonly BudgetHold[]): void {
  if (holds.length === 0) return;
  if (scope.budgetsSettled) {
    for (const hold of holds) hold.release(undefined);
    return;
  }
  (scope.budgetHolds ??= []).push(...holds);
}

/**
 * Gives back the request's budget places with its cost: each budget is charged once, however
 * many calls of a batch it admitted.
 */
export function settleBudgetHolds(scope: RequestScope, costUsd: number): void {
  scope.budgetsSettled = true;
  const holds = scope.budgetHolds;
  if (!holds) return;
  scope.budgetHolds = undefined;
  const charged = new Set<string>();
  for (const hold of holds) {
    hold.release(charged.has(hold.subject) ? 0 : costUsd);
    charged.add(hold.subject);
  }
}

export function noteUser(scope: Scope, userId: string): void {
  if (scope) scope.userId = userId;
}

/** The API key the caller authenticated with, and its tags (replacing any noted before: a socket may sign in again with another key). */
export function noteKey(scope: Scope, keyId: string, keyTags: readonly string[] = []): void {
  if (!scope) return;
  scope.keyId = keyId;
  scope.keyTags = keyTags;
}

/**
 * The tags a request's log row carries: its key's, then its own (each once); none when no
 * caller was identified, so an anonymous client cannot add to a tag's figures.
 */
export function rowTags(scope: RequestScope): readonly string[] {
  if (scope.userId === undefined) return [];
  const refused = scope.refusedTags;
  const own = refused ? (scope.tags ?? []).filter((tag) => !refused.includes(tag)) : (scope.tags ?? []);
  const ofKey = scope.keyTags ?? [];
  return ofKey.length === 0 ? own : [...new Set([...ofKey, ...own])];
}

/**
 * The model the request asked for, noted before its input is validated (a refused request is
 * logged with it too), so cut to the longest valid name: a megabyte "model" must not become a
 * megabyte log row.
 */
export function noteModel(scope: Scope, model: string): void {
  if (scope && scope.model === undefined) scope.model = model.slice(0, CHAT_LIMITS.modelNameMaxChars);
}

export function noteProcedure(scope: Scope, path: string): void {
  scope?.procedures.push(path);
}

/**
 * For SSE written on a path whose headers telemetry does not watch (the legacy routes are no
 * gateway paths), so the request's log row says it streamed. Gateway responses are marked by
 * telemetry itself, which also counts them as open streams.
 */
export function noteStream(scope: Scope): void {
  if (scope && !scope.gateway) scope.stream = true;
}

/** See RequestScope.responseBody; the last one noted wins. */
export function noteResponseBody(scope: Scope, body: string | (() => string | undefined)): void {
  if (scope) scope.responseBody = body;
}

export function noteCacheResult(scope: Scope, result: CacheResult, savedUsd = 0): void {
  if (!scope) return;
  scope.cacheResult = result;
  scope.cacheSavedUsd = savedUsd;
}

/** The last limit a request was counted against wins: it is the one the caller hit last. */
export function noteRateLimit(scope: Scope, note: RateLimitNote): void {
  if (scope) scope.rateLimit = note;
}

/** Keeps the first code: later ones are usually consequences of it. */
export function noteErrorCode(scope: Scope, code: string): void {
  if (scope && scope.errorCode === undefined) scope.errorCode = code;
}

/**
 * For transports that send headers only after the first token (the /v1 SSE route): call it
 * right before the provider chain starts, so the overhead header excludes the wait for
 * upstream that follows.
 */
export function markUpstreamStart(scope: Scope): void {
  if (scope && scope.upstreamOpenedAt === undefined) scope.upstreamOpenedAt = performance.now();
}

/**
 * Books an upstream call on its request. Returns the provider this request falls
 * back from when the call is a fallback after a failed call (for `fallbacksFrom`).
 */
export function noteUpstreamCall(scope: Scope, record: {
  provider: string;
  outcome: string;
  fallback: boolean;
  latencyMs: number;
  model?: string | undefined;
  pricedAs?: string | undefined;
  promptTokens?: number | undefined;
  completionTokens?: number | undefined;
  cachedTokens?: number | undefined;
  ttftMs?: number | undefined;
}): string | undefined {
  if (!scope) return undefined;
  // Records are emitted synchronously when a call ends, so "now" is the call's end.
  const end = performance.now();
  const previous = scope.calls.at(-1);
  scope.calls.push({
    provider: record.provider,
    outcome: record.outcome,
    fallback: record.fallback,
    start: end - record.latencyMs,
    end,
    model: record.model,
    pricedAs: record.pricedAs,
    promptTokens: record.promptTokens,
    completionTokens: record.completionTokens,
    cachedTokens: record.cachedTokens,
    ttftMs: record.ttftMs,
  });
  return record.fallback && previous && previous.outcome !== "success" && previous.provider !== record.provider ? previous.provider : undefined;
}

/** Total length of the union of [start, end] intervals (parallel calls overlap). */
export function unionLength(intervals: Array<[number, number]>): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let [curStart, curEnd] = [Number.NaN, Number.NaN];
  for (const [a, b] of sorted) {
    if (Number.isNaN(curStart) || a > curEnd) {
      if (!Number.isNaN(curStart)) total += curEnd - curStart;
      [curStart, curEnd] = [a, b];
    } else curEnd = Math.max(curEnd, b);
  }
  if (!Number.isNaN(curStart)) total += curEnd - curStart;
  return total;
}

/**
 * Time spent in Switchboard up to `now`: elapsed time minus the time at least one upstream
 * call was in flight (an open call counts from markUpstreamStart). Parallel calls
 * (consensus) are counted once, not summed.
 */
export function overheadMs(scope: RequestScope, now = performance.now()): number {
  const spans: Array<[number, number]> = scope.calls.map((c) => [c.start, Math.min(c.end, now)]);
  if (scope.upstreamOpenedAt !== undefined) spans.push([scope.upstreamOpenedAt, now]);
  return Math.max(0, now - scope.startedAt - unionLength(spans));
}

/**
 * The overhead of a stream: Switchboard's time before the first upstream call started (what
 * follows is paced by upstream and by the client reading). Undefined when no upstream call
 * was made.
 */
export function preUpstreamMs(scope: RequestScope): number | undefined {
  const starts = scope.calls.map((c) => c.start);
  if (scope.upstreamOpenedAt !== undefined) starts.push(scope.upstreamOpenedAt);
  return starts.length === 0 ? undefined : Math.max(0, Math.min(...starts) - scope.startedAt);
}
