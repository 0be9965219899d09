/**
 * The fallback chain. Providers are tried in PROVIDER_ORDER (or only the pinned one); a
 * failure before the first token moves on to the next; once text has gone downstream the
 * answer belongs to that provider and a break is reported, never papered over. Skips cost
 * nothing: a frozen provider, one inside a 429's Retry-After, one whose circuit is open.
 */
import { performance } from "node:perf_hooks";
import type { TAttemptOutcome, TChatAttempt, TChatUsage, TProviderId } from "@switchboard/schema";
import type { ProviderRegistry } from "./registry.ts";
import { ProviderError, type ChatProvider, type ProviderUsage } from "../../providers/types.ts";
import { ChainTimeout, classifyFailure, linkedController, type CallFailure } from "./call-outcome.ts";
import { ChainError, type ChainEvent, type ChainRequest, type ChainResult, type ProviderCallRecord } from "./chain-types.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";

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
}

export interface ProviderChain {
  complete(request: ChainRequest): Promise<ChainResult>;
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

  const modelFor = (p: ChatProvider, request: ChainRequest) => (p.kind === "template" ? p.model : (request.model ?? p.model));

  function candidates(request: ChainRequest): ChatProvider[] {
    return request.pinned ? [deps.registry.get(request.pinned)] : deps.registry.chain();
  }

  /** Why a provider is skipped, or null to call it. Acquires the half-open probe slot. */
  function skipOf(id: TProviderId): TAttemptOutcome | null {
    if (deps.isProviderFrozen?.(id)) return "skipped_frozen";
    if ((cooldownUntil.get(id) ?? 0) > now()) return "skipped_rate_limited";
    return deps.breaker.tryAcquire(id) ? null : "skipped_circuit_open";
  }

  /** The call's own controller: follows the request, and the provider's emergency stop. */
  function callController(p: ChatProvider, request: ChainRequest): { controller: AbortController; unlink: () => void } {
    const linked = linkedController(request.signal);
    const offStop = deps.onProviderStop?.(p.id, (reason) => linked.controller.abort(reason));
    return {
      controller: linked.controller,
      unlink: () => {
        linked.unlink();
        offStop?.();
      },
    };
  }

  /** The timer of one call: the chain's timeout, or the caller's shorter deadline. */
  function callTimeout(request: ChainRequest, phase: "call" | "first_token"): ChainTimeout {
    const own = request.timeoutMs;
    return own !== undefined && own < deps.timeoutMs ? new ChainTimeout(phase, own, true) : new ChainTimeout(phase, deps.timeoutMs);
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
  function fail(p: ChatProvider, model: string, mode: ProviderCallRecord["mode"], f: CallFailure, latencyMs: number, fallback: boolean): TChatAttempt {
    if (f.countsForCircuit) deps.breaker.recordFailure(p.id);
    else deps.breaker.release(p.id);
    if (f.outcome === "rate_limited" && f.retryAfterMs) cooldownUntil.set(p.id, now() + f.retryAfterMs);
    emit({ provider: p.id, model, mode, outcome: f.outcome, latencyMs, ttftMs: undefined, promptTokens: undefined, completionTokens: undefined, fallback, status: f.status, error: f.message, at: now() });
    return { provider: p.id, model, outcome: f.outcome, latencyMs, ...(f.status !== undefined ? { status: f.status } : {}), error: f.message };
  }

  function succeed(p: ChatProvider, model: string, mode: ProviderCallRecord["mode"], usage: TChatUsage, latencyMs: number, ttftMs: number | undefined, fallback: boolean): TChatAttempt {
    deps.breaker.recordSuccess(p.id);
    cooldownUntil.delete(p.id);
    emit({ provider: p.id, model, mode, outcome: "success", latencyMs, ttftMs, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, fallback, status: undefined, error: undefined, at: now() });
    return { provider: p.id, model, outcome: "success", latencyMs };
  }

  /**
   * The providers to call, in order. Those skipped (open circuit, 429 cooldown, frozen) are
   * booked as attempts on the way, so `fallback` is true once anything before failed or was
   * skipped.
   */
  function* callable(request: ChainRequest, attempts: TChatAttempt[]): Generator<{ p: ChatProvider; model: string; fallback: boolean }> {
    for (const p of candidates(request)) {
      const model = modelFor(p, request);
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
    const attempts: TChatAttempt[] = [];
    const started = performance.now();
    for (const { p, model, fallback } of callable(request, attempts)) {
      const { controller, unlink } = callController(p, request);
      const timeout = callTimeout(request, "call");
      const timer = setTimeout(() => controller.abort(timeout), timeout.ms);
      const t0 = performance.now();
      try {
        const result = await p.complete({ ...request, signal: controller.signal });
        if (result.content.length === 0) throw new ProviderError("malformed", "upstream answered with an empty reply");
        if (request.accept && !request.accept(result.content)) throw new ProviderError("malformed", "reply is not the requested structured output");
        const usage = usageOf(result.usage, request, result.content);
        const latencyMs = roundMs(performance.now() - t0);
        attempts.push(succeed(p, result.model, "complete", usage, latencyMs, undefined, fallback));
        return { content: result.content, provider: p.id, model: result.model, usage, latencyMs: roundMs(performance.now() - started), attempts };
      } catch (error) {
        const f = classifyFailure(error, controller.signal, request.signal, false);
        attempts.push(fail(p, model, "complete", f, roundMs(performance.now() - t0), fallback));
        if (request.signal.aborted) throw new ChainError("aborted", f.message, { attempts, abortReason: request.signal.reason });
      } finally {
        clearTimeout(timer);
        unlink();
      }
    }
    throw exhausted(attempts);
  }

  async function* stream(request: ChainRequest): AsyncGenerator<ChainEvent> {
    const attempts: TChatAttempt[] = [];
    const started = performance.now();
    for (const { p, model, fallback } of callable(request, attempts)) {
      const { controller, unlink } = callController(p, request);
      const t0 = performance.now();
      const firstToken = callTimeout(request, "first_token");
      const firstTokenTimer = setTimeout(() => controller.abort(firstToken), firstToken.ms);
      const upstream = p.stream({ ...request, signal: controller.signal })[Symbol.asyncIterator]();
      let reported: ProviderUsage | undefined;
      let finished = false;
      let content = "";
      try {
        while (content === "") {
          const next = await upstream.next();
          if (next.done) throw new ProviderError("malformed", "upstream finished without any content");
          if (next.value.type === "delta") content = next.value.text;
          else if (next.value.type === "usage") reported = next.value.usage;
        }
      } catch (error) {
        const f = classifyFailure(error, controller.signal, request.signal, false);
        attempts.push(fail(p, model, "stream", f, roundMs(performance.now() - t0), fallback));
        unlink();
        if (request.signal.aborted) throw new ChainError("aborted", f.message, { attempts, abortReason: request.signal.reason });
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
      const partial = () => ({ content, provider: p.id, model, usage: usageOf(reported, request, content), latencyMs: roundMs(performance.now() - started) });
      try {
        yield { type: "start", provider: p.id, model };
        yield { type: "delta", text: content };
        for (;;) {
          awaitingUpstream = true;
          idle.refresh();
          const next = await upstream.next();
          awaitingUpstream = false;
          if (next.done) break;
          const chunk = next.value;
          if (chunk.type === "delta") {
            content += chunk.text;
            yield { type: "delta", text: chunk.text };
          } else if (chunk.type === "usage") reported = chunk.usage;
          else finished = true;
        }
        if (!finished) throw new ProviderError("connection_error", "upstream stream ended before the answer finished");
        const usage = usageOf(reported, request, content);
        attempts.push(succeed(p, model, "stream", usage, roundMs(performance.now() - t0), ttftMs, fallback));
        settled = true;
        yield { type: "done", content, provider: p.id, model, usage, latencyMs: roundMs(performance.now() - started), attempts };
      } catch (error) {
        settled = true;
        const f = classifyFailure(error, controller.signal, request.signal, true);
        attempts.push(fail(p, model, "stream", f, roundMs(performance.now() - t0), fallback));
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
          fail(p, model, "stream", { outcome: "aborted", message: "consumer stopped reading", countsForCircuit: false, status: undefined, retryAfterMs: undefined }, roundMs(performance.now() - t0), fallback);
        }
        unlink();
        void upstream.return?.(undefined)?.catch(() => {});
      }
      return;
    }
    throw exhausted(attempts);
  }

  return {
    complete,
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

/** Upstream usage when reported; otherwise an estimate (≈4 characters per token). */
function usageOf(reported: ProviderUsage | undefined, request: ChainRequest, content: string): TChatUsage {
  const promptTokens = reported?.promptTokens ?? Math.ceil(request.messages.reduce((n, m) => n + m.content.length, 0) / 4);
  const completionTokens = reported?.completionTokens ?? Math.ceil(content.length / 4);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}
