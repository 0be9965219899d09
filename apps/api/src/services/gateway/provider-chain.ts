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
import { ProviderError, type ChatProvider, type ChoiceChunk, type ProviderChunk, type ProviderCompletion, type ProviderUsage } from "../../providers/types.ts";
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
import type { RequestScope } from "../../infra/request-scope.ts";

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

const roundMs = (ms: number) => Math.max(0, Math.round(ms));

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

  /**
   * Who to try, with which upstream model: the pinned provider alone; the route named by
   * `model` when one exists; otherwise the `auto` route, with `model` (if any) overriding
   * each provider's own.
   */
  function candidates(request: ChainRequest): Array<{ p: ChatProvider; model: string }> {
    const { registry } = deps;
    if (request.pinned) {
      const p = registry.get(request.pinned);
      return p ? [{ p, model: modelFor(p, request.model) }] : [];
    }
    const named = request.model !== undefined ? registry.route(request.model) : undefined;
    if (named) return ordered(named.targets).map((t) => ({ p: t.provider, model: modelFor(t.provider, t.upstreamModel) }));
    const auto = registry.route(AUTO_MODEL)?.targets ?? [];
    return ordered(auto).map((t) => ({ p: t.provider, model: modelFor(t.provider, request.model ?? t.upstreamModel) }));
  }

  /** Why a provider is skipped, or null to call it. Acquires the half-open probe slot. */
  function skipOf(id: TProviderId): TAttemptOutcome | null {
    if (deps.isProviderFrozen?.(id)) return "skipped_frozen";
    if ((cooldownUntil.get(id) ?? 0) > now()) return "skipped_rate_limited";
    return deps.breaker.tryAcquire(id) ? null : "skipped_circuit_open";
  }

  /** The call's own controller: follows the request (its caller, its stop), and the provider's emergency stop. */
  function callController(p: ChatProvider, request: { signal: AbortSignal }, end: RequestEnd): { controller: CallAbort; unlink: () => void } {
    const controller = new CallAbort();
    const { signal } = request;
    const onCallerAbort = () => controller.abort(signal.reason);
    const listens = signal !== NEVER_ABORTED && !signal.aborted;
    if (signal.aborted) onCallerAbort();
    else if (listens) signal.addEventListener("abort", onCallerAbort, { once: true });
    end.follow(controller);
    const offStop = deps.onProviderStop?.(p.id, (reason) => controller.abort(reason));
    return {
      controller,
      unlink: () => {
        if (listens) signal.removeEventListener("abort", onCallerAbort);
        offStop?.();
      },
    };
  }

  /** The timer of one call: the chain's timeout, or the caller's shorter deadline. */
  function callTimeout(p: ChatProvider, request: ChainRequest, phase: "call" | "first_token"): ChainTimeout {
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

  /** Books a failed call: breaker, 429 cooldown, metrics record, attempt entry. */
  function fail(p: ChatProvider, model: string, mode: ProviderCallRecord["mode"], f: CallFailure, latencyMs: number, fallback: boolean, scope: RequestScope | undefined): TChatAttempt {
    if (f.countsForCircuit) deps.breaker.recordFailure(p.id);
    else deps.breaker.release(p.id);
    if (f.outcome === "rate_limited" && f.retryAfterMs) cooldownUntil.set(p.id, now() + f.retryAfterMs);
    emit({ provider: p.id, model, mode, outcome: f.outcome, latencyMs, ttftMs: undefined, promptTokens: undefined, completionTokens: undefined, cachedTokens: undefined, fallback, status: f.status, error: f.message, at: now(), scope });
    return { provider: p.id, model, outcome: f.outcome, latencyMs, ...(f.status !== undefined ? { status: f.status } : {}), error: f.message };
  }

  /**
   * Books a call that failed before anything reached the client, then stops the chain where
   * falling over to the next provider would be wrong: the caller is gone, or the request
   * itself was refused. Otherwise returns, and the chain tries the next provider.
   */
  function failBeforeOutput(p: ChatProvider, model: string, mode: ProviderCallRecord["mode"], f: CallFailure, t0: number, fallback: boolean, scope: RequestScope | undefined, attempts: TChatAttempt[], end: RequestEnd): void {
    attempts.push(fail(p, model, mode, f, roundMs(performance.now() - t0), fallback, scope));
    if (end.gone) throw new ChainError("aborted", f.message, { attempts, abortReason: end.reason });
    if (f.rejection) throw new ChainError("rejected", `${p.id} refused the request: ${f.message}`, { attempts, rejection: f.rejection });
  }

  function succeed(p: ChatProvider, model: string, mode: ProviderCallRecord["mode"], usage: TChatUsage, latencyMs: number, ttftMs: number | undefined, fallback: boolean, scope: RequestScope | undefined, details?: Record<string, unknown>): TChatAttempt {
    deps.breaker.recordSuccess(p.id);
    cooldownUntil.delete(p.id);
    emit({ provider: p.id, model, mode, outcome: "success", latencyMs, ttftMs, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cachedTokens: cachedTokensOf(details), fallback, status: undefined, error: undefined, at: now(), scope });
    return { provider: p.id, model, outcome: "success", latencyMs };
  }

  /**
   * The providers to call, in order. Those skipped (open circuit, 429 cooldown, frozen) are
   * booked as attempts on the way, so `fallback` is true once anything before failed or was
   * skipped.
   */
  function* callable(request: ChainRequest, attempts: TChatAttempt[]): Generator<{ p: ChatProvider; model: string; fallback: boolean }> {
    for (const { p, model } of candidates(request)) {
      const skip = skipOf(p.id);
      if (skip) {
        attempts.push({ provider: p.id, model, outcome: skip, latencyMs: 0 });
        continue;
      }
      yield { p, model, fallback: attempts.length > 0 };
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
      for (const { p, model, fallback } of callable(request, attempts)) {
        const { controller, unlink } = callController(p, request, end);
        const timeout = callTimeout(p, request, "call");
        const timer = setTimeout(() => controller.abort(timeout), timeout.ms);
        const t0 = performance.now();
        try {
          const result = await p.complete({ ...request, model, signal: controller.signal });
          if (!completionHasOutput(result)) throw new ProviderError("malformed", "upstream answered with an empty reply");
          if (request.accept && !request.accept(result.content)) throw new ReplyNotAccepted();
          const usage = usageOf(result.usage, request, result.content);
          const latencyMs = roundMs(performance.now() - t0);
          attempts.push(succeed(p, result.model, "complete", usage, latencyMs, undefined, fallback, request.scope, result.usage?.details));
          return {
            content: result.content,
            finishReason: result.finishReason,
            choices: result.choices,
            systemFingerprint: result.systemFingerprint,
            provider: p.id,
            model: result.model,
            usage,
            usageDetails: result.usage?.details,
            latencyMs: roundMs(performance.now() - started),
            attempts,
          };
        } catch (error) {
          const f = classifyFailure(error, controller.signal, end.gone, false, request.passthrough !== undefined);
          failBeforeOutput(p, model, "complete", f, t0, fallback, request.scope, attempts, end);
        } finally {
          clearTimeout(timer);
          unlink();
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
      for (const { p, model, fallback } of callable(request, attempts)) {
        const { controller, unlink } = callController(p, request, end);
        const t0 = performance.now();
        const firstToken = callTimeout(p, request, "first_token");
        const firstTokenTimer = setTimeout(() => controller.abort(firstToken), firstToken.ms);
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
          const f = classifyFailure(error, controller.signal, end.gone, false, request.passthrough !== undefined);
          unlink();
          failBeforeOutput(p, model, "stream", f, t0, fallback, request.scope, attempts, end);
          continue;
        } finally {
          clearTimeout(firstTokenTimer);
        }

        // Committed: from here on this provider owns the answer.
        const ttftMs = roundMs(performance.now() - t0);
        let settled = false;
        // The idle timer measures upstream silence only, not time the consumer takes to pull.
        let awaitingUpstream = false;
        const idle = setTimeout(() => {
          if (awaitingUpstream) controller.abort(new ChainTimeout("idle", deps.idleTimeoutMs));
        }, deps.idleTimeoutMs);
        const partial = () => ({ content: state.content, provider: p.id, model, usage: usageOf(state.reported, request, state.content), latencyMs: roundMs(performance.now() - started) });
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
          attempts.push(succeed(p, model, "stream", usage, roundMs(performance.now() - t0), ttftMs, fallback, request.scope, state.reported?.details));
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
          const f = classifyFailure(error, controller.signal, end.gone, true);
          attempts.push(fail(p, model, "stream", f, roundMs(performance.now() - t0), fallback, request.scope));
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
            fail(p, model, "stream", { outcome: "aborted", message: "consumer stopped reading", countsForCircuit: false, status: undefined, retryAfterMs: undefined }, roundMs(performance.now() - t0), fallback, request.scope);
          }
          unlink();
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
      const pinned = request.pinned ? deps.registry.get(request.pinned) : undefined;
      const candidates = request.pinned ? (pinned ? [pinned] : []) : deps.registry.chain();
      const offering = candidates.filter((p) => p.embed !== undefined);
      for (const p of offering) {
        const skip = skipOf(p.id);
        if (skip) {
          attempts.push({ provider: p.id, model: request.model, outcome: skip, latencyMs: 0 });
          continue;
        }
        const fallback = attempts.length > 0;
        const { controller, unlink } = callController(p, request, end);
        const timeout = new ChainTimeout("call", deps.timeoutMs);
        const timer = setTimeout(() => controller.abort(timeout), timeout.ms);
        const t0 = performance.now();
        try {
          const result = await p.embed!({ model: request.model, body: request.body, signal: controller.signal });
          const latencyMs = roundMs(performance.now() - t0);
          const usage = { promptTokens: result.usage?.promptTokens ?? 0, completionTokens: 0, totalTokens: result.usage?.totalTokens ?? 0 };
          attempts.push(succeed(p, result.model, "embed", usage, latencyMs, undefined, fallback, request.scope));
          return { ...result, provider: p.id, latencyMs: roundMs(performance.now() - started), attempts };
        } catch (error) {
          const f = classifyFailure(error, controller.signal, end.gone, false, true);
          failBeforeOutput(p, request.model, "embed", f, t0, fallback, request.scope, attempts, end);
        } finally {
          clearTimeout(timer);
          unlink();
        }
      }
      if (offering.length === 0) throw new ChainError("exhausted", "No active provider offers embeddings", { attempts });
      throw exhausted(attempts);
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

interface StreamState {
  /** Choice 0's text so far. */
  content: string;
  /** Choice 0's finish reason, once sent. */
  finishReason: string | undefined;
  /** Some choice finished: a stream closing without that was cut. */
  finished: boolean;
  /** Something a client would see arrived (text, a tool call, a refusal, a telling finish). */
  output: boolean;
  reported: ProviderUsage | undefined;
  systemFingerprint: string | null | undefined;
}

const newStreamState = (): StreamState => ({ content: "", finishReason: undefined, finished: false, output: false, reported: undefined, systemFingerprint: undefined });

/** Delta fields that are bookkeeping, not output. */
const NON_OUTPUT_FIELDS = new Set(["role", "content", "refusal", "tool_calls"]);

const filled = (v: unknown) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0);

/** Whether a choice piece carries output: text, a refusal, a tool call, or any other field (reasoning…). */
function carriesOutput(delta: ChoiceChunk["delta"]): boolean {
  if (filled(delta.content) || filled(delta.refusal) || filled(delta.tool_calls)) return true;
  return Object.keys(delta).some((k) => !NON_OUTPUT_FIELDS.has(k) && filled(delta[k]));
}

/**
 * A finish other than "stop" is an answer even with no text (length, content_filter,
 * tool_calls): the client must learn it. "stop" with nothing before it is an empty reply.
 */
const tellingFinish = (reason: string | null | undefined) => typeof reason === "string" && reason !== "stop";

/** A provider chunk as chain events; updates the stream's state. */
function absorb(chunk: ProviderChunk, s: StreamState): ChainEvent[] {
  switch (chunk.type) {
    case "usage":
      s.reported = chunk.usage;
      return [];
    case "delta":
      if (chunk.text.length === 0) return [];
      s.content += chunk.text;
      s.output = true;
      return [{ type: "choice", choice: { index: 0, delta: { content: chunk.text }, finish_reason: null } }, { type: "delta", text: chunk.text }];
    case "finish":
      s.finished = true;
      s.finishReason = chunk.reason;
      if (tellingFinish(chunk.reason)) s.output = true;
      return [{ type: "choice", choice: { index: 0, delta: {}, finish_reason: chunk.reason } }];
    case "choice": {
      const { choice } = chunk;
      if (chunk.systemFingerprint !== undefined && chunk.systemFingerprint !== null) s.systemFingerprint = chunk.systemFingerprint;
      const events: ChainEvent[] = [{ type: "choice", choice, systemFingerprint: chunk.systemFingerprint }];
      if (choice.finish_reason) {
        s.finished = true;
        if (choice.index === 0) s.finishReason = choice.finish_reason;
        if (tellingFinish(choice.finish_reason)) s.output = true;
      }
      if (carriesOutput(choice.delta)) s.output = true;
      const text = choice.delta.content;
      if (choice.index === 0 && typeof text === "string" && text.length > 0) {
        s.content += text;
        events.push({ type: "delta", text });
      }
      return events;
    }
  }
}

/** A whole answer is empty when no choice has text, a tool call, a refusal or a telling finish. */
function completionHasOutput(result: ProviderCompletion): boolean {
  if (result.content.length > 0 || tellingFinish(result.finishReason)) return true;
  return (result.choices ?? []).some((c) => tellingFinish(c.finish_reason) || carriesOutput(c.message));
}

/** Upstream usage when reported; otherwise an estimate (≈4 characters per token). */
function usageOf(reported: ProviderUsage | undefined, request: ChainRequest, content: string): TChatUsage {
  const promptTokens = reported?.promptTokens ?? Math.ceil(request.messages.reduce((n, m) => n + m.content.length, 0) / 4);
  const completionTokens = reported?.completionTokens ?? Math.ceil(content.length / 4);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** Cached prompt tokens as OpenAI reports them (Anthropic's cache reads are translated to the same place). */
function cachedTokensOf(details: Record<string, unknown> | undefined): number | undefined {
  const prompt = details?.prompt_tokens_details;
  if (!prompt || typeof prompt !== "object") return undefined;
  const cached = (prompt as { cached_tokens?: unknown }).cached_tokens;
  return typeof cached === "number" && Number.isFinite(cached) && cached >= 0 ? cached : undefined;
}
