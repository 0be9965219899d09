/**
 * The chat service: guards (emergency, per-user rate limit, provider choice), conversations,
 * and the provider chain. Transports (tRPC routers, the OpenAI-compatible REST routes) call
 * it and only translate its answers and AppErrors to their wire format.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { PROVIDER_IDS, type TChatProvider, type TChatSendInput, type TChatSendOutput, type TChatStreamEvent, type TProviderId } from "@switchboard/schema";
import { noteCacheResult } from "../../infra/request-scope.ts";
import type { ChatRate } from "./chat-rate.ts";
import type { ProviderRegistry } from "../gateway/registry.ts";
import { AppError } from "../errors.ts";
import { eitherStop } from "../gateway/call-outcome.ts";
import { ChainError, NEVER_ABORTED, type CallerContext, type ChainEvent, type ChainRequest, type ChainResult, type EmbedChainRequest, type EmbedChainResult } from "../gateway/chain-types.ts";
import { appErrorOfChain, streamAppErrorOf, type ChainFailureContext } from "./chat-errors.ts";
import { streamChatReply } from "./chat-stream.ts";
import type { CircuitBreaker } from "../gateway/circuit-breaker.ts";
import { clarifyWith } from "./clarify.ts";
import type { ConversationStore, Viewer } from "./conversation-store.ts";
import type { ProviderChain } from "../gateway/provider-chain.ts";
import { ChoiceAssembly } from "../gateway/choice-assembly.ts";
import { replayed, type CacheAsk, type CacheDirectives, type ResponseCache } from "./response-cache.ts";
import { savedByHit } from "./cache-savings.ts";
import type { CachePurge } from "./cache-purge.ts";

/**
 * What the emergency stop offers chat. The tRPC guard and the HTTP hook refuse new
 * requests while frozen; this signal covers the requests already running when a freeze lands.
 */
export interface ChatEmergencyHooks {
  /**
   * Calls `abort` with the EMERGENCY_STOP AppError when a freeze stopping chat lands (at once
   * if one already does); returns the unsubscribe. A callback rather than an AbortSignal of
   * its own: AbortController creation is among the largest per-request CPU costs on Node 20
   * in profiles, and the chain aborts the controller of the call in flight with it
   * (ChainRequest.onStop).
   */
  onStop(abort: (reason: unknown) => void): () => void;
}

export interface ChatServiceDeps {
  chain: ProviderChain;
  registry: ProviderRegistry;
  breaker: CircuitBreaker;
  store: ConversationStore;
  cache: ResponseCache;
  /** The user's chat rate, which every call counts against. */
  rate: ChatRate;
  /** Purges of kept answers: who may purge whose, and their record. */
  purges: CachePurge;
  log: Logger;
  /** The EMERGENCY_STOP refusal of a freeze taking `id` out of chains right now, or null. */
  frozenRefusal?: (id: TProviderId) => AppError | null;
  emergency?: ChatEmergencyHooks;
}

/** A stateless request (OpenAI-compatible endpoint): the caller sends the whole history. */
export type StatelessRequest = Omit<ChainRequest, "signal" | "onStop" | "accept"> & {
  /** What the request says to the response cache (whether it asks, and HTTP's directives); the route serving it may ask too. */
  cache?: CacheDirectives | undefined;
};

/** A streamed answer longer than this is not kept in the response cache (nor assembled for it). */
const MAX_CACHED_STREAM_CHARS = 512 * 1024;


export function createChatService(deps: ChatServiceDeps) {
  const { chain, registry, store, purges } = deps;

  /** Checks every request passes before any work: provider choice, then the rate limit. */
  async function admit(userId: string, pinned: TProviderId | undefined, caller: CallerContext): Promise<void> {
    // A request that cannot be served is refused before it costs the caller a rate-limit point.
    if (pinned !== undefined && !registry.isActive(pinned)) {
      throw new AppError("BAD_REQUEST", `Provider ${pinned} is not configured (providers.list shows the providers)`, {
        details: { activeProviders: registry.chain().map((p) => p.id) },
      });
    }
    await deps.rate.count(userId, caller.scope);
  }

  /**
   * What ends a request early: the caller leaving (its signal or its `leaves` stop) and a freeze or the shutdown
   * deadline landing (the emergency hook, which the chain subscribes for the request's span);
   * and the request's scope, where the chain books its calls.
   */
  const ends = (caller: CallerContext) => ({
    signal: caller.signal ?? NEVER_ABORTED,
    onStop: eitherStop(deps.emergency?.onStop, caller.leaves),
    scope: caller.scope,
  });

  const isFrozen = (id: TProviderId) => (deps.frozenRefusal?.(id) ?? null) !== null;
  const failure: ChainFailureContext = {
    waitMsOf(attempt) {
      const until =
        attempt.outcome === "rate_limited" || attempt.outcome === "skipped_rate_limited" ? chain.rateLimitedUntil(attempt.provider)
        : attempt.outcome === "skipped_circuit_open" ? deps.breaker.snapshot(attempt.provider).retryAt
        : null;
      return until === null ? null : until - Date.now();
    },
    frozenRefusal: (id) => deps.frozenRefusal?.(id) ?? null,
  };

  async function runComplete(request: ChainRequest): Promise<ChainResult> {
    try {
      return await chain.complete(request);
    } catch (error) {
      if (error instanceof ChainError) throw appErrorOfChain(error, failure);
      throw error;
    }
  }

  async function send(user: Viewer, input: TChatSendInput, caller: CallerContext = {}): Promise<TChatSendOutput> {
    await admit(user.id, input.provider, caller);
    const { conversationId, history, createdAt, whenStored } = await store.addUserMessage(user.id, input.conversationId, input.message);
    const messageId = randomUUID();
    try {
      // The user's message is being stored meanwhile; the reply waits for it (whenStored).
      const result = await chain.complete({
        messages: [...history, { role: "user", content: input.message }],
        model: input.model,
        temperature: input.temperature,
        maxTokens: input.maxTokens,
        pinned: input.provider,
        ...ends(caller),
      });
      await whenStored();
      await store.saveReply(conversationId, createdAt, {
        id: messageId,
        content: result.content,
        provider: result.provider,
        model: result.model,
        status: "complete",
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
        latencyMs: result.latencyMs,
        attempts: result.attempts,
      });
      return { conversationId, messageId, ...result };
    } catch (error) {
      if (!(error instanceof ChainError)) throw error;
      // Why the answer failed is what the caller needs (a freeze's reason, when to retry); a
      // failed reply that cannot be stored as well (the database gone meanwhile) is the
      // server's to log, as in a stream.
      await whenStored()
        .then(() =>
          store.saveReply(conversationId, createdAt, {
            id: messageId, content: "", provider: null, model: null, status: "failed",
            promptTokens: null, completionTokens: null, latencyMs: null, attempts: error.attempts,
          }),
        )
        .catch((err: unknown) => deps.log.error({ err, conversationId }, "could not store a failed reply"));
      throw appErrorOfChain(error, failure);
    }
  }

  async function* stream(user: Viewer, input: TChatSendInput, caller: CallerContext = {}): AsyncGenerator<TChatStreamEvent> {
    await admit(user.id, input.provider, caller);
    const turn = await store.addUserMessage(user.id, input.conversationId, input.message);
    yield* streamChatReply({ chain, store, log: deps.log, failure }, turn, input, ends(caller));
  }

  /** A kept answer may be served while its provider may still answer: active, not frozen. */
  const servable = (provider: string) => registry.isActive(provider as TProviderId) && !isFrozen(provider as TProviderId);
  /**
   * How a request uses the response cache, when it does: for as long as it asks, else as its
   * route's default says (a pinned provider is served by no route); HTTP's directives hold
   * either way. Its answer is kept before it goes out, so a repeat sent at once finds it.
   */
  const cacheAsk = (userId: string, request: StatelessRequest, scope: CallerContext["scope"]): [CacheAsk | undefined, Omit<StatelessRequest, "cache">] => {
    const { cache, ...asked } = request;
    const routeTtlSec = asked.pinned || cache?.routeDefault === false ? null : (registry.servingRoute(asked.model)?.cacheTtlSec ?? null);
    const ttlMs = cache?.ttlMs ?? (routeTtlSec === null ? undefined : routeTtlSec * 1000);
    if (ttlMs === undefined) return [undefined, asked];
    const ask = { ttlMs, reuse: cache?.reuse ?? true, store: cache?.store ?? true, userId, request: asked, configVersion: registry.version(), askedAt: Date.now() };
    // Until a kept answer is found, a provider answers: a miss, or a refresh when told not to reuse.
    noteCacheResult(scope, ask.reuse ? "miss" : "refresh");
    return [ask, asked];
  };

  async function completeStateless(userId: string, request: StatelessRequest, caller: CallerContext = {}): Promise<ChainResult> {
    await admit(userId, request.pinned, caller);
    const [ask, asked] = cacheAsk(userId, request, caller.scope);
    if (ask === undefined) return runComplete({ ...asked, ...ends(caller) });
    const kept = await deps.cache.find(ask, servable);
    if (kept) {
      noteCacheResult(caller.scope, "hit", savedByHit(registry, kept, asked));
      return { ...kept, cached: true };
    }
    const result = await runComplete({ ...asked, ...ends(caller) });
    await deps.cache.keep(ask, result);
    return result;
  }

  /**
   * Admits first (so refusals are plain errors), then hands back the chain's events. Failures
   * are thrown as AppErrors: before the first event the transport can still send a status;
   * after it, `details.streamCode` says how the stream broke.
   */
  async function streamStateless(userId: string, request: StatelessRequest, caller: CallerContext = {}): Promise<AsyncGenerator<ChainEvent>> {
    await admit(userId, request.pinned, caller);
    const [ask, asked] = cacheAsk(userId, request, caller.scope);
    const kept = ask === undefined ? undefined : await deps.cache.find(ask, servable);
    if (kept) {
      noteCacheResult(caller.scope, "hit", savedByHit(registry, kept, asked));
      return replayed(kept);
    }
    // Asked to keep it: the pieces are joined as they pass, and the whole answer kept at its end.
    const assembly = ask?.store ? new ChoiceAssembly(MAX_CACHED_STREAM_CHARS) : undefined;
    return (async function* () {
      let started = false;
      let settled = false;
      try {
        for await (const event of chain.stream({ ...asked, ...ends(caller) })) {
          started = true;
          if (event.type === "choice") assembly?.add(event.choice);
          else if (event.type === "done" && ask !== undefined) {
            const { type: _done, ...result } = event;
            settled = true;
            await deps.cache.keep(ask, assembly && !assembly.truncated ? { ...result, choices: assembly.choices() } : undefined);
          }
          yield event;
        }
      } catch (error) {
        if (error instanceof ChainError) throw started ? streamAppErrorOf(error) : appErrorOfChain(error, failure);
        throw error;
      } finally {
        // Ended without a whole answer (broken, or its reader left): nothing to keep, and a refresh forgets the old one.
        if (ask !== undefined && !settled) void deps.cache.keep(ask, undefined);
      }
    })();
  }

  /** Embeddings: the same admission (provider choice, rate limit) and freeze rules as chat. */
  async function embed(userId: string, request: Omit<EmbedChainRequest, "signal">, caller: CallerContext = {}): Promise<EmbedChainResult> {
    await admit(userId, request.pinned, caller);
    try {
      return await chain.embed({ ...request, ...ends(caller) });
    } catch (error) {
      if (error instanceof ChainError) throw appErrorOfChain(error, failure);
      throw error;
    }
  }

  async function clarify(user: Viewer, input: { message: string; provider?: TProviderId | undefined }, caller: CallerContext = {}) {
    await admit(user.id, input.provider, caller);
    return clarifyWith(runComplete, input, ends(caller));
  }

  function providers(viewer: Viewer): TChatProvider[] {
    const seesUrls = viewer.role !== "USER";
    // The environment's providers that are not configured stay listed, inactive, as
    // before providers became data: dashboards show what could be switched on.
    const unconfigured = PROVIDER_IDS.filter((id) => !registry.isActive(id)).map(
      (id): TChatProvider => ({
        id,
        kind: "openai-compatible",
        model: "",
        active: false,
        order: null,
        baseUrl: null,
        circuit: { state: "closed", consecutiveFailures: 0, retryAt: null },
        rateLimitedUntil: null,
        frozen: isFrozen(id),
      }),
    );
    return [...registry.all().map((p) => {
      const circuit = deps.breaker.snapshot(p.id);
      const limitedUntil = chain.rateLimitedUntil(p.id);
      return {
        id: p.id,
        kind: p.kind,
        model: p.model,
        active: registry.isActive(p.id),
        order: registry.orderOf(p.id),
        // Base URLs can reveal internal hosts: admins only.
        baseUrl: seesUrls ? p.baseUrl : null,
        circuit: {
          state: circuit.state,
          consecutiveFailures: circuit.consecutiveFailures,
          retryAt: circuit.retryAt === null ? null : new Date(circuit.retryAt).toISOString(),
        },
        rateLimitedUntil: limitedUntil === null ? null : new Date(limitedUntil).toISOString(),
        frozen: isFrozen(p.id),
      };
    }), ...unconfigured];
  }

  return {
    send,
    stream,
    purgeCache: purges.purge,
    /** Recorded cache purges, newest first. */
    cachePurges: purges.list,
    clarify,
    providers,
    completeStateless,
    streamStateless,
    embed,
    conversations: { list: store.list, get: store.get, remove: store.remove, import: store.importConversation },
    /** Subscribe to one record per upstream call (metrics). */
    onProviderCall: chain.onCall,
  };
}

export type ChatService = ReturnType<typeof createChatService>;
