/**
 * The fallback chain. Providers are tried in their route's order (the `auto` route by
 * default, after one weighted pick when the route has weights; or only the pinned one); a
 * failure before the first token moves on to the next; once text has gone downstream the
 * answer belongs to that provider and a break is reported, never papered over. Skips cost
 * nothing: a frozen provider, one inside a 429's Retry-After, one whose circuit is open.
 */
import { performance } from "node:perf_hooks";
import { AUTO_MODEL, type TAttemptOutcome, type TChatAttempt, type TChatUsage, type TProviderId } from "@switchboard/schema";
import type { LiveTarget, ProviderRegistry } from "./registry.ts";
import { ProviderError, type ChatProvider } from "../../providers/types.ts";
import { absorb, cachedTokensOf, completionHasOutput, newStreamState, tokenCount, usageOf } from "./answer-output.ts";
import { CallAbort, ChainTimeout, RequestEnd, ReplyNotAccepted, classifyFailure, type CallFailure } from "./call-outcome.ts";
import {
  ChainError,
  NEVER_ABORTED,
  type ChainEvent,
  type ChainRequest,
  type ChainResult,
  type EmbedChainRequest,
  type EmbedChainResult,
  type ProviderCallRecord,
} from "./chain-types.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";
import { fitEmbeddingAnswer } from "./embedding-answer.ts";
import { otherModelsNotTried, sameModelTargets, type EmbeddingTargets } from "./embedding-targets.ts";
import { callEnded, callStarted, type RequestScope } from "../../infra/request-scope.ts";

export interface ProviderChainDeps {
  registry: ProviderRegistry;
  breaker: CircuitBreaker;
  /** Non-stream: whole call. Stream: time to first token (PROVIDER_TIMEOUT_MS). */
  timeoutMs: number;
  /** Stream: longest silence allowed after the first token. */
  idleTimeoutMs: number;
  /** True while an emergency freeze covers the provider: it is skipped. */
  isProviderFrozen?: (id: TProviderId) => boolean;
  /**
   * Calls `abort` (reason: the EMERGENCY_STOP AppError) when a freeze covering the provider
   * lands mid-call; returns the unsubscribe. A callback, not a signal: see ChatEmergencyHooks.
   */
  onProviderStop?: (id: TProviderId, abort: (reason: unknown) => void) => () => void;
  now?: () => number;
  /** Picks among weighted targets (tests make it deterministic). */
  random?: () => number;
}

export interface ProviderChain {
  complete(request: ChainRequest): Promise<ChainResult>;
  /** Embeddings through the providers that offer them, with the same fallback and accounting. */
  embed(request: EmbedChainRequest): Promise<EmbedChainResult>;
  stream(request: ChainRequest): AsyncGenerator<ChainEvent>;
  /** Subscribes to one record per upstream call (metrics, logs). Returns an unsubscribe. */
  onCall(listener: (record: ProviderCallRecord) => void): () => void;
  /** Epoch ms until which a 429 keeps the provider skipped, or null. */
  rateLimitedUntil(id: TProviderId): number | null;
}

/** One upstream call in flight (startCall). */
interface UpstreamCall {
  controller: CallAbort;
  /** performance.now() when the call started: its latency is measured from here. */
  t0: number;
  stopTimer(): void;
  release(): void;
}

const roundMs = (ms: number) => Math.max(0, Math.round(ms));

/** A provider the chain may try: with which upstream model, billed at which route's prices. */
interface Candidate {
  p: ChatProvider;
  model: string;
  pricedAs: string | undefined;
}

/** A candidate being called; `fallback`: something before it failed or was skipped. */
interface Called extends Candidate {
  fallback: boolean;
}

export function createProviderChain(deps: ProviderChainDeps): ProviderChain {
  const now = deps.now ?? Date.now;
  const listeners = new Set<(record: ProviderCallRecord) => void>();
  const cooldownUntil = new Map<TProviderId, number>();

  const random = deps.random ?? Math.random;
  const modelFor = (p: ChatProvider, model: string | undefined) => (p.kind === "template" ? p.model : (model ?? p.model));

  /** Could the provider take a call now? Read-only: acquires nothing (see skipOf). */
  function healthy(id: TProviderId): boolean {
    if (deps.isProviderFrozen?.(id)) return false;
    if ((cooldownUntil.get(id) ?? 0) > now()) return false;
    return !deps.breaker.isOpen(id);
  }

  /**
   * A route's targets in the order to try: one weighted target drawn among the healthy
   * weighted ones (by weight), then every other target in the route's order (fallback).
   * Without weights, the route's order alone.
   */
  function ordered(targets: readonly LiveTarget[]): readonly LiveTarget[] {
    let total = 0;
    for (const t of targets) if (t.weight !== null && healthy(t.provider.id)) total += t.weight;
    if (total === 0) return targets;
    // Second pass over the same (tiny) list instead of an array of the eligible ones.
    let draw = random() * total;
    let pick = -1;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (t.weight === null || !healthy(t.provider.id)) continue;
      pick = i;
      draw -= t.weight;
      if (draw < 0) break;
    }
    if (pick <= 0) return targets;
    const out = new Array<LiveTarget>(targets.length);
    out[0] = targets[pick]!;
    for (let i = 0, j = 1; i < targets.length; i++) if (i !== pick) out[j++] = targets[i]!;
    return out;
  }

  /** A provider asked outside any route: billed at what that upstream model costs elsewhere. */
  const unrouted = (p: ChatProvider, model: string, orDefault = true): Candidate => ({ p, model, pricedAs: deps.registry.pricedAs(p.id, model, orDefault) });

  /**
   * Who to try, with which upstream model: the pinned provider alone; the route named by
   * `model` when one exists; otherwise the `auto` route, with `model` (if any) overriding
   * each provider's own.
   */
  function candidates(request: ChainRequest): Candidate[] {
    const { registry } = deps;
    if (request.pinned) {
      const p = registry.get(request.pinned);
      return p ? [unrouted(p, modelFor(p, request.model))] : [];
    }
    const named = request.model !== undefined ? registry.route(request.model) : undefined;
    if (named) return ordered(named.targets).map((t) => ({ p: t.provider, model: modelFor(t.provider, t.upstreamModel), pricedAs: t.pricedAs }));
    const auto = registry.route(AUTO_MODEL)?.targets ?? [];
    if (request.model === undefined) return ordered(auto).map((t) => ({ p: t.provider, model: modelFor(t.provider, t.upstreamModel), pricedAs: t.pricedAs }));
    const asked = request.model;
    return ordered(auto).map((t) => unrouted(t.provider, modelFor(t.provider, asked)));
  }

  /**
   * Who embeds: the pinned provider alone; the route named by `model`, its targets of one
   * upstream model only (embedding-targets.ts); otherwise each `auto` provider, with `model`
   * as asked. Only providers that offer embeddings, never at `auto`'s prices (a chat model's).
   */
  function embedCandidates(request: EmbedChainRequest): EmbeddingTargets<Candidate> {
    const { registry } = deps;
    const route = request.pinned ? undefined : registry.route(request.model);
    if (route) {
      const offering = ordered(route.targets).filter((t) => t.provider.embed !== undefined);
      return sameModelTargets(offering.map((t) => (route.price ? { p: t.provider, model: t.upstreamModel, pricedAs: t.pricedAs } : unrouted(t.provider, t.upstreamModel, false))));
    }
    const pinned = request.pinned ? registry.get(request.pinned) : undefined;
    const providers = request.pinned ? (pinned ? [pinned] : []) : registry.chain();
    return { usable: providers.filter((p) => p.embed !== undefined).map((p) => unrouted(p, request.model, false)), otherModels: [] };
  }

  /** Why a provider is skipped, or null to call it. Acquires the half-open probe slot. */
  function skipOf(id: TProviderId): TAttemptOutcome | null {
    if (deps.isProviderFrozen?.(id)) return "skipped_frozen";
    if ((cooldownUntil.get(id) ?? 0) > now()) return "skipped_rate_limited";
    return deps.breaker.tryAcquire(id) ? null : "skipped_circuit_open";
  }

  /**
   * One upstream call's start: its own controller (following the caller's signal, the
   * request's end and the provider's emergency stop), its timer, and the clock its latency
   * is measured from. `release` stops the timer and drops the links; a stream calls
   * `stopTimer` alone once the first token is in, and `release` when it ends.
   */
  function startCall(p: ChatProvider, request: { signal: AbortSignal; scope?: RequestScope | undefined }, end: RequestEnd, timeout: ChainTimeout): UpstreamCall {
    const controller = new CallAbort();
    // The request's record waits for this call's (a client that left ends the response first).
    callStarted(request.scope);
    const { signal } = request;
    const onCallerAbort = () => controller.abort(signal.reason);
    const listens = signal !== NEVER_ABORTED && !signal.aborted;
    if (signal.aborted) onCallerAbort();
    else if (listens) signal.addEventListener("abort", onCallerAbort, { once: true });
    end.follow(controller);
    const offStop = deps.onProviderStop?.(p.id, (reason) => controller.stopForProvider(reason));
    const timer = setTimeout(() => controller.abort(timeout), timeout.ms);
    const stopTimer = () => clearTimeout(timer);
    let released = false;
    return {
      controller,
      t0: performance.now(),
      stopTimer,
      // After the call is booked: the request's scope may end on it.
      release: () => {
        if (released) return;
        released = true;
        stopTimer();
        if (listens) signal.removeEventListener("abort", onCallerAbort);
        offStop?.();
        callEnded(request.scope);
      },
    };
  }

  /** The timer of one call: the provider's own timeout (the chain's by default), or the caller's shorter deadline. */
  function callTimeout(p: ChatProvider, request: { timeoutMs?: number | undefined }, phase: "call" | "first_token"): ChainTimeout {
    const own = request.timeoutMs;
    const limit = p.timeoutMs ?? deps.timeoutMs;
    return own !== undefined && own < limit ? new ChainTimeout(phase, own, true) : new ChainTimeout(phase, limit);
  }

  function emit(record: ProviderCallRecord): void {
    for (const listener of listeners) {
      try {
        listener(record);
      } catch {
        // A metrics bug must never break a chat.
      }
    }
  }

  /**
   * Books a failed call: breaker, 429 cooldown, metrics record, attempt entry. `used`: what the
   * upstream bills for it — a stream that broke after its first token, a refused reply.
   */
  function fail(c: Called, mode: ProviderCallRecord["mode"], f: CallFailure, latencyMs: number, scope: RequestScope | undefined, used?: TChatUsage): TChatAttempt {
    const { p, model, fallback } = c;
    if (f.countsForCircuit) deps.breaker.recordFailure(p.id);
    else deps.breaker.release(p.id);
    if (f.outcome === "rate_limited" && f.retryAfterMs) cooldownUntil.set(p.id, now() + f.retryAfterMs);
    emit({ provider: p.id, model, pricedAs: c.pricedAs, mode, outcome: f.outcome, latencyMs, ttftMs: undefined, promptTokens: used?.promptTokens, completionTokens: used?.completionTokens, cachedTokens: undefined, fallback, status: f.status, error: f.message, at: now(), scope });
    return {
      provider: p.id,
      model,
      outcome: f.outcome,
      latencyMs,
      ...(f.status !== undefined ? { status: f.status } : {}),
      error: f.message,
      ...(f.param !== undefined ? { param: f.param } : {}),
      ...(f.permanent ? { permanent: true } : {}),
    };
  }

  /**
   * Books a call that failed before anything reached the client (`used`: what a reply the
   * chain refused had cost), then stops the chain where falling over to the next provider
   * would be wrong: the caller is gone, the request itself was refused, or this instance had
   * no room for the answer. Otherwise returns,
   * and the chain tries the next provider.
   */
  function failBeforeOutput(c: Called, mode: ProviderCallRecord["mode"], f: CallFailure, t0: number, scope: RequestScope | undefined, attempts: TChatAttempt[], end: RequestEnd, used?: TChatUsage): void {
    attempts.push(fail(c, mode, f, roundMs(performance.now() - t0), scope, used));
    if (end.gone) throw new ChainError("aborted", f.message, { attempts, abortReason: end.reason });
    if (f.rejection) throw new ChainError("rejected", `${c.p.id} refused the request: ${f.message}`, { attempts, rejection: f.rejection });
    if (f.outcome === "overloaded") throw new ChainError("overloaded", `${c.p.id} answered, but ${f.message}`, { attempts });
  }

  /** `model`: the one the upstream says answered (may name a dated version of the one asked for). */
  function succeed(c: Called, model: string, mode: ProviderCallRecord["mode"], usage: TChatUsage, latencyMs: number, ttftMs: number | undefined, scope: RequestScope | undefined, details?: Record<string, unknown>): TChatAttempt {
    const { p, fallback } = c;
    deps.breaker.recordSuccess(p.id);
    cooldownUntil.delete(p.id);
    emit({ provider: p.id, model, pricedAs: c.pricedAs, mode, outcome: "success", latencyMs, ttftMs, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cachedTokens: cachedTokensOf(details), fallback, status: undefined, error: undefined, at: now(), scope });
    return { provider: p.id, model, outcome: "success", latencyMs };
  }

  /**
   * The providers to call, in order. Those skipped (open circuit, 429 cooldown, frozen) are
   * booked as attempts on the way, so `fallback` is true once anything before failed or was
   * skipped.
   */
  function* callable(targets: Iterable<Candidate>, attempts: TChatAttempt[]): Generator<Called> {
    for (const { p, model, pricedAs } of targets) {
      const skip = skipOf(p.id);
      if (skip) {
        attempts.push({ provider: p.id, model, outcome: skip, latencyMs: 0 });
        continue;
      }
      yield { p, model, pricedAs, fallback: attempts.length > 0 };
    }
  }

  function exhausted(attempts: TChatAttempt[]): ChainError {
    const summary = attempts.map((a) => `${a.provider}: ${a.error ?? a.outcome}`).join("; ");
    return new ChainError("exhausted", `No provider could answer (${summary || "no active provider"})`, { attempts });
  }

  async function complete(request: ChainRequest): Promise<ChainResult> {
    const end = new RequestEnd(request);
    try {
      const attempts: TChatAttempt[] = [];
      const started = performance.now();
      for (const called of callable(candidates(request), attempts)) {
        const { p, model } = called;
        const call = startCall(p, request, end, callTimeout(p, request, "call"));
        let reply: Awaited<ReturnType<ChatProvider["complete"]>> | undefined;
        try {
          const result = (reply = await p.complete({ ...request, model, signal: call.controller.signal }));
          if (!completionHasOutput(result)) throw new ProviderError("malformed", "upstream answered with an empty reply");
          if (request.accept && !request.accept(result.content)) throw new ReplyNotAccepted();
          const usage = usageOf(result.usage, request, result.content);
          const latencyMs = roundMs(performance.now() - call.t0);
          attempts.push(succeed(called, result.model, "complete", usage, latencyMs, undefined, request.scope, result.usage?.details));
          return {
            content: result.content,
            finishReason: result.finishReason,
            choices: result.choices,
            systemFingerprint: result.systemFingerprint,
            extras: result.extras,
            provider: p.id,
            model: result.model,
            usage,
            usageDetails: result.usage?.details,
            latencyMs: roundMs(performance.now() - started),
            attempts,
          };
        } catch (error) {
          const f = classifyFailure(error, call.controller, end.gone, false, request.passthrough !== undefined);
          // A reply refused here (empty, not what the caller accepts) was still answered, and billed.
          failBeforeOutput(called, "complete", f, call.t0, request.scope, attempts, end, reply && usageOf(reply.usage, request, reply.content));
        } finally {
          call.release();
        }
      }
      throw exhausted(attempts);
    } finally {
      end.close();
    }
  }

  async function* stream(request: ChainRequest): AsyncGenerator<ChainEvent> {
    // Not a wrapper around another generator: each event would pay for one more layer.
    const end = new RequestEnd(request);
    try {
      const attempts: TChatAttempt[] = [];
      const started = performance.now();
      for (const called of callable(candidates(request), attempts)) {
        const { p, model } = called;
        // The call's timer runs until the first token; after it, the idle timer below.
        const call = startCall(p, request, end, callTimeout(p, request, "first_token"));
        const { controller, t0 } = call;
        const upstream = p.stream({ ...request, model, signal: controller.signal })[Symbol.asyncIterator]();
        const state = newStreamState();
        // Pieces before the first real output (the role chunk) wait: until then the call may
        // still fail over to the next provider, and nothing may have reached the client.
        const pending: ChainEvent[] = [];
        try {
          while (!state.output) {
            const next = await upstream.next();
            if (next.done) throw new ProviderError("malformed", "upstream finished without any content");
            pending.push(...absorb(next.value, state));
          }
        } catch (error) {
          const f = classifyFailure(error, controller, end.gone, false, request.passthrough !== undefined);
          try {
            // An upstream that finished without content may still have reported what it billed.
            failBeforeOutput(called, "stream", f, t0, request.scope, attempts, end, state.reported && usageOf(state.reported, request, state.content));
          } finally {
            call.release();
          }
          continue;
        } finally {
          call.stopTimer();
        }

        // Committed: from here on this provider owns the answer.
        const ttftMs = roundMs(performance.now() - t0);
        let settled = false;
        // The idle timer measures upstream silence only, not time the consumer takes to pull.
        let awaitingUpstream = false;
        const idle = setTimeout(() => {
          if (awaitingUpstream) controller.abort(new ChainTimeout("idle", deps.idleTimeoutMs));
        }, deps.idleTimeoutMs);
        const used = () => usageOf(state.reported, request, state.content);
        const partial = () => ({ content: state.content, provider: p.id, model, usage: used(), latencyMs: roundMs(performance.now() - started) });
        try {
          yield { type: "start", provider: p.id, model };
          // Plain loops rather than yield* over arrays: an async generator's yield* wraps a
          // sync iterable in one more async iterator, a promise per event.
          for (const event of pending) yield event;
          for (;;) {
            awaitingUpstream = true;
            idle.refresh();
            const next = await upstream.next();
            awaitingUpstream = false;
            if (next.done) break;
            for (const event of absorb(next.value, state)) yield event;
          }
          if (!state.finished) throw new ProviderError("connection_error", "upstream stream ended before the answer finished");
          const usage = usageOf(state.reported, request, state.content);
          attempts.push(succeed(called, model, "stream", usage, roundMs(performance.now() - t0), ttftMs, request.scope, state.reported?.details));
          settled = true;
          yield {
            type: "done",
            content: state.content,
            finishReason: state.finishReason ?? "stop",
            systemFingerprint: state.systemFingerprint,
            provider: p.id,
            model,
            usage,
            usageDetails: state.reported?.details,
            latencyMs: roundMs(performance.now() - started),
            attempts,
          };
        } catch (error) {
          settled = true;
          const f = classifyFailure(error, controller, end.gone, true);
          attempts.push(fail(called, "stream", f, roundMs(performance.now() - t0), request.scope, used()));
          const kind = f.outcome === "idle_timeout" ? "idle_timeout" : f.outcome === "aborted" ? "aborted" : "interrupted";
          throw new ChainError(kind, `${p.id} stream broke after the first token: ${f.message}`, {
            attempts,
            partial: partial(),
            abortReason: controller.signal.reason,
          });
        } finally {
          clearTimeout(idle);
          if (!settled) {
            // The consumer stopped pulling (client gone): stop the upstream call too.
            controller.abort(new Error("consumer stopped reading"));
            const stopped = { outcome: "aborted", message: "consumer stopped reading", countsForCircuit: false, status: undefined, retryAfterMs: undefined } as const;
            fail(called, "stream", stopped, roundMs(performance.now() - t0), request.scope, used());
          }
          call.release();
          void upstream.return?.(undefined)?.catch(() => {});
        }
        return;
      }
      throw exhausted(attempts);
    } finally {
      end.close();
    }
  }

  async function embed(request: EmbedChainRequest): Promise<EmbedChainResult> {
    const end = new RequestEnd(request);
    try {
      const attempts: TChatAttempt[] = [];
      const started = performance.now();
      const targets = embedCandidates(request);
      for (const called of callable(targets.usable, attempts)) {
        const { p, model } = called;
        const call = startCall(p, request, end, callTimeout(p, {}, "call"));
        try {
          const answer = await p.embed!({ model, body: request.body, signal: call.controller.signal });
          const result = { ...answer, data: fitEmbeddingAnswer(answer.data, request.body) };
          const latencyMs = roundMs(performance.now() - call.t0);
          const promptTokens = tokenCount(result.usage?.promptTokens) ?? 0;
          const usage = { promptTokens, completionTokens: 0, totalTokens: tokenCount(result.usage?.totalTokens) ?? promptTokens };
          attempts.push(succeed(called, result.model, "embed", usage, latencyMs, undefined, request.scope));
          return { ...result, provider: p.id, latencyMs: roundMs(performance.now() - started), attempts };
        } catch (error) {
          const f = classifyFailure(error, call.controller, end.gone, false, true);
          failBeforeOutput(called, "embed", f, call.t0, request.scope, attempts, end);
        } finally {
          call.release();
        }
      }
      if (targets.usable.length === 0) throw new ChainError("exhausted", "No active provider offers embeddings", { attempts });
      const failed = exhausted(attempts);
      throw targets.otherModels.length === 0 ? failed : new ChainError("exhausted", `${failed.message}: ${otherModelsNotTried(targets)}`, { attempts });
    } finally {
      end.close();
    }
  }

  return {
    complete,
    embed,
    stream,
    onCall(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    rateLimitedUntil(id) {
      const until = cooldownUntil.get(id);
      return until !== undefined && until > now() ? until : null;
    },
  };
}
