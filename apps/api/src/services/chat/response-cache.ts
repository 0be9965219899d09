/**
 * Answers kept for a while so that the same request, asked again by the same user, is
 * answered without calling a provider — what LiteLLM's and Portkey's "simple" caches do, for
 * evaluations, retries of a batch, and development loops. Only when the request asks for it
 * (and for how long); never across users: the key is the user and the whole request, exactly
 * (any field changed, the order of a body's keys included, is another request).
 *
 * Cluster mode keeps answers in the coordination store, so a repeat may reach any instance,
 * at most SHARED_MAX_CHARS_PER_USER_HOUR per user; the embedded default keeps them in process,
 * 32 MB, half of it per user (KeptPerUser's bounds). An answer over MAX_CACHED_CHARS is not kept. The
 * store failing or stalling is a miss, never a failed or slow request: the cache saves money,
 * it must not cost availability.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { MODEL_LIMITS } from "@switchboard/schema";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { ChainEvent, ChainRequest, ChainResult } from "../gateway/chain-types.ts";
import { AppError } from "../errors.ts";
import { createKeptPerUser } from "../kept-per-user.ts";

/** What makes two requests the same one (beside the user and the gateway's configuration). */
export type CachedRequest = Pick<ChainRequest, "messages" | "passthrough" | "model" | "pinned" | "temperature" | "maxTokens" | "responseFormat">;

/**
 * What a request says to the cache: how long (its own ttl, when it asks; otherwise its
 * route's default, if any) and HTTP's directives, which hold either way.
 */
export type CacheDirectives = Omit<CachePolicy, "ttlMs"> & {
  ttlMs: number | undefined;
  /** Whether the route's default time may apply when the request does not ask (a body's `store: true` says no). */
  routeDefault: boolean;
};

/** How a request uses the cache. */
export interface CachePolicy {
  /** How old a kept answer may be, and how long this one's answer is kept. */
  ttlMs: number;
  /** Whether a kept answer may answer; when not, a provider answers and its answer replaces the kept one (a refresh). */
  reuse: boolean;
  /** Whether this request's answer is kept. */
  store: boolean;
}

/** A request that uses the cache. */
export interface CacheAsk extends CachePolicy {
  userId: string;
  request: CachedRequest;
  /**
   * The gateway configuration's version: a route retargeted or a provider changed makes every
   * answer kept before another request's (a kept answer names the provider that gave it).
   */
  configVersion: number;
  /** When the request asked (epoch ms): its answer is dated so, for purges and for its age. */
  askedAt: number;
}

/** The longest a request (or a route) may ask an answer to be kept. */
export const MAX_CACHE_TTL_SEC = MODEL_LIMITS.maxCacheTtlSec;
/** An answer longer than this (as kept) is not kept. */
const MAX_CACHED_CHARS = 1024 * 1024;
/** Embedded default: what kept answers may take, about (two bytes a character). */
const IN_PROCESS_MAX_BYTES = 32 * 1024 * 1024;
/**
 * Cluster mode: what one user may keep within an hour, in characters. Answers live in the
 * coordination store beside the emergency state: no user may fill it.
 */
export const SHARED_MAX_CHARS_PER_USER_HOUR = 64 * 1024 * 1024;
/**
 * The longest a request waits on the store, reading or writing: a stalled Redis makes the
 * cache a miss (a write goes on in the background), never a slow answer.
 */
const STORE_WAIT_MS = 250;
/**
 * A purge is a time, kept as long as any answer it covers may live: an answer kept at or
 * before it (by the keeping instance's clock, so give instances' clocks this much slack) is
 * not served. One marker per user and one for everyone, read with the answer.
 */
const PURGE_SLACK_MS = 1000;
const PURGED_EVERYONE = "resp-cache-purged:*";
const purgedMarker = (userId: string) => `resp-cache-purged:${userId}`;
const WARN_EVERY_MS = 60_000;

export interface ResponseCache {
  /**
   * The answer kept for this request: one kept at most `ttlMs` ago, from a provider
   * `servable` still allows (active, not frozen); undefined otherwise, when the request does
   * not reuse kept answers, or when the store cannot answer in time.
   */
  find(ask: CacheAsk, servable: (provider: string) => boolean): Promise<ChainResult | undefined>;
  /**
   * Keeps a whole answer for `ask.ttlMs` (unless the request says not to store it): not one a
   * choice of which did not finish or was filtered (another try may differ), nor one over
   * MAX_CACHED_CHARS. `undefined`: the request ended without a whole answer (a broken or too
   * long stream). A refresh whose answer is not kept forgets the answer kept before it. Never
   * throws, and waits on the store at most STORE_WAIT_MS.
   */
  keep(ask: CacheAsk, result: ChainResult | undefined): Promise<void>;
  /**
   * Forgets kept answers — one user's, or everyone's (`"everyone"`) — on every instance: an
   * answer kept before now is never served again (it is replaced by the next one kept).
   * Returns the purge time that holds: answers kept before it are not served.
   */
  purge(whose: { userId: string } | "everyone"): Promise<Date>;
}

interface Kept {
  keptAt: number;
  result: ChainResult;
}

export function createResponseCache(coordination: Coordination, log: Pick<Logger, "warn">): ResponseCache {
  const store = createKeptPerUser(coordination, { counter: "resp-cache-chars", sharedMaxCharsPerUserHour: SHARED_MAX_CHARS_PER_USER_HOUR, inProcessMaxBytes: IN_PROCESS_MAX_BYTES });
  let warnedAt = -Infinity;
  const warn = (err: unknown, msg: string) => {
    if (Date.now() - warnedAt < WARN_EVERY_MS) return;
    warnedAt = Date.now();
    log.warn({ err }, msg);
  };

  return {
    async find(ask, servable) {
      if (!ask.reuse) return undefined;
      // The answer and the purges that may cover it, read together (Redis: two reads sent at
      // once on one connection); not even started while the store is away.
      const read = () => Promise.all([store.getMany([keyOf(ask)]), coordination.getMany([purgedMarker(ask.userId), PURGED_EVERYONE])]);
      const values = coordination.state() === "ready" ? await within(read(), (err) => warn(err, "response cache unreadable: answering without it")) : undefined;
      const kept = values?.[0][0] ? parsed(values[0][0]) : undefined;
      const purgedAt = Math.max(0, ...(values?.[1] ?? []).map((v) => Number(v ?? 0) || 0));
      const fresh = kept !== undefined && kept.keptAt > purgedAt + PURGE_SLACK_MS && Date.now() - kept.keptAt <= ask.ttlMs && servable(kept.result.provider);
      return fresh ? kept.result : undefined;
    },
    async keep(ask, result) {
      if (coordination.state() !== "ready") return;
      const failed = (err: unknown) => warn(err, "could not keep an answer in the response cache");
      const value = result && ask.store ? keptForm(result, ask.askedAt) : undefined;
      const kept = value !== undefined && (await within(store.put(ask.userId, [[keyOf(ask), value]], ask.ttlMs), failed)) === true;
      // A refresh whose answer is not kept leaves nothing behind: the kept answer was asked away.
      if (!kept && !ask.reuse) await within(store.delete([keyOf(ask)]), failed);
    },
    async purge(whose) {
      const at = new Date();
      // Kept past the longest an answer lives (and the slack): by then every answer it covers is gone.
      const marker = whose === "everyone" ? PURGED_EVERYONE : purgedMarker(whose.userId);
      // Raised, never lowered: a later purge from an instance whose clock is behind keeps the earlier time.
      const held = await coordination.raise(marker, at.getTime(), { ttlMs: MAX_CACHE_TTL_SEC * 1000 + 2 * PURGE_SLACK_MS }).catch((cause: unknown) => {
        throw new AppError("SERVICE_UNAVAILABLE", "The shared store is unreachable: nothing was purged; try again in a moment", { retryAfterSec: 2, cause });
      });
      // The time that holds (an earlier purge's, from a clock ahead, may be later than ours).
      return new Date(held);
    },
  };
}

/**
 * An answer as kept; none for one a choice of which did not finish or was filtered (another
 * try may differ), nor one over MAX_CACHED_CHARS.
 */
function keptForm(result: ChainResult, askedAt: number): string | undefined {
  const choices = result.choices ?? [{ finish_reason: result.finishReason }];
  if (choices.some((c) => !c.finish_reason || c.finish_reason === "content_filter")) return undefined;
  // What made the answer (attempts, latency) belongs to the request that paid for it. Dated
  // when it was asked for, not when it arrived: an answer in flight across a purge is purged.
  const value = JSON.stringify({ keptAt: askedAt, result: { ...result, attempts: [], latencyMs: 0 } } satisfies Kept);
  return value.length <= MAX_CACHED_CHARS ? value : undefined;
}

/** The store key of a request: its user, the configuration, and the request exactly as asked. */
function keyOf({ userId, request, configVersion }: Pick<CacheAsk, "userId" | "request" | "configVersion">): string {
  const { messages, passthrough, model, pinned, temperature, maxTokens, responseFormat } = request;
  // The stream's own options say how the answer travels, not what it is.
  const { stream_options: _travel, ...asked } = passthrough ?? {};
  const what = [userId, configVersion, model ?? null, pinned ?? null, temperature ?? null, maxTokens ?? null, responseFormat ?? null, passthrough ? asked : messages];
  return `resp-cache:${createHash("sha256").update(JSON.stringify(what)).digest("base64url")}`;
}

/** `work`'s value if it settles within STORE_WAIT_MS; undefined otherwise (it goes on), or if it failed (told to `failed`). */
async function within<T>(work: Promise<T>, failed: (err: unknown) => void): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), STORE_WAIT_MS)));
  try {
    return await Promise.race([work.catch((err: unknown) => void failed(err)), late]);
  } finally {
    clearTimeout(timer);
  }
}

function parsed(value: string): Kept | undefined {
  try {
    const kept = JSON.parse(value) as Partial<Kept>;
    return typeof kept.keptAt === "number" && kept.result && typeof kept.result.provider === "string" ? (kept as Kept) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A kept answer as the events of a stream that answers it at once: its start, each choice
 * whole (tool calls numbered, as stream pieces are), choice 0's text for text-only readers,
 * then the end, marked cached.
 */
export async function* replayed(kept: ChainResult): AsyncGenerator<ChainEvent> {
  yield { type: "start", provider: kept.provider, model: kept.model };
  const choices = kept.choices ?? [{ index: 0, message: { content: kept.content }, finish_reason: kept.finishReason }];
  for (const { index, message, finish_reason, logprobs, anthropic_stop } of choices) {
    const calls = Array.isArray(message.tool_calls) ? { tool_calls: message.tool_calls.map((call, i) => ({ index: i, ...(call as object) })) } : {};
    const choice = { index, delta: { role: "assistant", ...message, ...calls }, finish_reason, ...(logprobs !== undefined ? { logprobs } : {}), ...(anthropic_stop ? { anthropic_stop } : {}) };
    yield { type: "choice", choice, systemFingerprint: kept.systemFingerprint, extras: kept.extras };
    if (index === 0 && kept.content) yield { type: "delta", text: kept.content };
  }
  yield { type: "done", ...kept, cached: true };
}
