/**
 * Answers kept for a while so that the same request, asked again by the same user, is
 * answered without calling a provider — what LiteLLM's and Portkey's "simple" caches do, for
 * evaluations, retries of a batch, and development loops. Only when the request asks for it
 * (and for how long); never across users: the key is the user and the whole request, exactly
 * (any field changed, the order of a body's keys included, is another request).
 *
 * Cluster mode keeps answers in the coordination store, so a repeat may reach any instance;
 * the embedded default keeps them in process, bounded in bytes (the oldest go first). An
 * answer over MAX_CACHED_CHARS is not kept. The store failing is a miss, never a failed
 * request: the cache saves money, it must not cost availability.
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { Counter, type Registry } from "prom-client";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { ChainEvent, ChainRequest, ChainResult } from "../gateway/chain-types.ts";

/** What makes two requests the same one (beside the user). */
export type CachedRequest = Pick<ChainRequest, "messages" | "passthrough" | "model" | "pinned" | "temperature" | "maxTokens" | "responseFormat">;

/** The longest a request may ask an answer to be kept. */
export const MAX_CACHE_TTL_SEC = 24 * 60 * 60;
/** An answer longer than this (as kept) is not kept. */
const MAX_CACHED_CHARS = 1024 * 1024;
/** Embedded default: what kept answers may take, about (two bytes a character). */
const IN_PROCESS_MAX_BYTES = 32 * 1024 * 1024;

export interface ResponseCache {
  /** The cache key of `request` for `userId`. */
  keyOf(userId: string, request: CachedRequest): string;
  /** The answer kept under `key`; undefined when none is (or the store cannot be read). */
  get(key: string): Promise<ChainResult | undefined>;
  /** Keeps `result` under `key` for `ttlMs`; failures are the caller's to log, never to throw. */
  put(key: string, result: ChainResult, ttlMs: number): Promise<void>;
}

export function createResponseCache(coordination: Coordination, registry: Registry): ResponseCache {
  const store = coordination.kind === "memory" ? inProcess() : shared(coordination);
  const looked = new Counter({
    name: "switchboard_response_cache_requests_total",
    help: "Requests that asked for the response cache, by result: hit (answered from it), miss (a provider answered).",
    labelNames: ["result"],
    registers: [registry],
  });
  return {
    keyOf(userId, request) {
      const { messages, passthrough, model, pinned, temperature, maxTokens, responseFormat } = request;
      // The stream's own options say how the answer travels, not what it is.
      const { stream_options: _travel, ...asked } = passthrough ?? {};
      const digest = createHash("sha256").update(JSON.stringify([userId, model ?? null, pinned ?? null, temperature ?? null, maxTokens ?? null, responseFormat ?? null, passthrough ? asked : messages])).digest("base64url");
      return `resp-cache:${digest}`;
    },
    async get(key) {
      const value = await store.get(key).catch(() => undefined);
      const kept = value ? parsed(value) : undefined;
      looked.inc({ result: kept ? "hit" : "miss" });
      return kept;
    },
    async put(key, result, ttlMs) {
      // What made the answer (attempts, latency) belongs to the request that paid for it.
      const value = JSON.stringify({ ...result, attempts: [], latencyMs: 0 });
      if (value.length <= MAX_CACHED_CHARS) await store.set(key, value, ttlMs);
    },
  };
}

/**
 * A kept answer as the events of a stream that answers it at once: its start, each choice
 * whole (tool calls numbered, as stream pieces are), choice 0's text for text-only readers,
 * then the end, marked cached.
 */
export async function* replayed(kept: ChainResult): AsyncGenerator<ChainEvent> {
  yield { type: "start", provider: kept.provider, model: kept.model };
  const choices = kept.choices ?? [{ index: 0, message: { content: kept.content }, finish_reason: kept.finishReason }];
  for (const { index, message, finish_reason, logprobs } of choices) {
    const calls = Array.isArray(message.tool_calls) ? { tool_calls: message.tool_calls.map((call, i) => ({ index: i, ...(call as object) })) } : {};
    const choice = { index, delta: { role: "assistant", ...message, ...calls }, finish_reason, ...(logprobs !== undefined ? { logprobs } : {}) };
    yield { type: "choice", choice, systemFingerprint: kept.systemFingerprint, extras: kept.extras };
    if (index === 0 && kept.content) yield { type: "delta", text: kept.content };
  }
  yield { type: "done", ...kept, cached: true };
}

function parsed(value: string): ChainResult | undefined {
  try {
    return JSON.parse(value) as ChainResult;
  } catch {
    return undefined;
  }
}

interface CacheStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
}

function shared(coordination: Coordination): CacheStore {
  return {
    get: async (key) => (await coordination.get(key)) ?? undefined,
    set: (key, value, ttlMs) => coordination.set(key, value, { ttlMs }),
  };
}

function inProcess(): CacheStore {
  const cache = new LRUCache<string, string>({ maxSize: IN_PROCESS_MAX_BYTES, sizeCalculation: (value, key) => 2 * (value.length + key.length) });
  return {
    get: (key) => Promise.resolve(cache.get(key)),
    set(key, value, ttlMs) {
      cache.set(key, value, { ttl: ttlMs });
      return Promise.resolve();
    },
  };
}
