/**
 * How one upstream call ended, from the chain's point of view: the attempt outcome, whether
 * it says something about the provider's health (circuit breaker), and how long a 429 asked
 * us to stay away.
 */
import type { TAttemptOutcome } from "@switchboard/schema";
import { ProviderError, type CallSignal, type UpstreamError } from "../../providers/types.ts";
import type { RequestStop } from "./chain-types.ts";

/** Abort reason the chain uses for its own timers, to tell them from a caller's abort. */
export class ChainTimeout {
  constructor(
    readonly phase: "call" | "first_token" | "idle",
    readonly ms: number,
    /** Set by a caller's deadline (ChainRequest.timeoutMs) rather than the provider timeout. */
    readonly callerDeadline = false,
  ) {}
  get message(): string {
    if (this.phase === "idle") return `upstream sent nothing for ${this.ms} ms`;
    return this.phase === "first_token" ? `no first token within ${this.ms} ms` : `no answer within ${this.ms} ms`;
  }
}

export interface CallFailure {
  outcome: TAttemptOutcome;
  message: string;
  /** True when the failure reflects the provider's health, not this request or its caller. */
  countsForCircuit: boolean;
  status: number | undefined;
  retryAfterMs: number | undefined;
  /** The upstream refused the caller's own request: stop here and hand its error back. */
  rejection?: { status: number; upstream: UpstreamError | undefined } | undefined;
  /** For `unsupported`: the request field the provider cannot serve, when it said. */
  param?: string | undefined;
  /** The provider refused for a reason only an operator can clear (OPERATOR_FAULT_STATUSES). */
  permanent?: boolean;
}

/** Statuses that say "this request is wrong", not "this provider is down". */
const REQUEST_FAULT_STATUSES = new Set([400, 413, 422]);

/**
 * Whether an upstream 4xx blames the request rather than the provider. 400, 413 and 422 always
 * do. A 404 does only with an OpenAI-shaped error body (an unknown model, say): a bare 404 is
 * more likely a wrong base URL, the provider's fault. 401/403 (the provider's credentials) and
 * 429 (its capacity) never do.
 */
function blamesRequest(failure: ProviderError): boolean {
  const status = failure.status;
  if (status === undefined) return false;
  return REQUEST_FAULT_STATUSES.has(status) || (status === 404 && failure.upstream !== undefined);
}

/**
 * 401/403 (the provider's credentials or permissions), 402 (its billing) and a 429 that the
 * provider marked as an exhausted quota (an http_error, not a rate limit: upstream-reply.ts)
 * fail every call the same way until an operator acts, so no client should retry on them.
 */
const OPERATOR_FAULT_STATUSES = new Set([401, 402, 403, 429]);

/**
 * @param committed whether text was already sent downstream: any break after that point is
 *   an interruption, whatever caused it.
 */
/**
 * A well-formed reply that is not what the caller asked for (ChainRequest.accept: prose where
 * JSON was required; embeddings that do not answer the request's inputs). The next provider
 * is tried, but the provider is healthy: a run of such replies, which a caller's requests can
 * provoke, must not open its circuit for every other caller.
 */
export class ReplyNotAccepted extends ProviderError {
  constructor(message = "reply is not the requested structured output") {
    super("malformed", message);
  }
}

export function classifyFailure(
  error: unknown,
  call: CallAbort,
  /** The request ended on the caller's side (it left, or a stop covering the request landed). */
  callerGone: boolean,
  committed: boolean,
  /** True when the caller's own request was forwarded (pass-through): its faults are its own. */
  forwarded = false,
): CallFailure {
  const base = { status: undefined, retryAfterMs: undefined };
  const reason: unknown = call.reason;
  if (call.aborted && reason instanceof ChainTimeout) {
    return { ...base, outcome: reason.phase === "idle" ? "idle_timeout" : "timeout", message: reason.message, countsForCircuit: !reason.callerDeadline };
  }
  if (callerGone) return { ...base, outcome: "aborted", message: "request aborted by the caller", countsForCircuit: false };
  if (call.aborted) {
    const message = call.byProviderStop ? "provider frozen by an emergency stop" : `call aborted: ${reasonText(reason)}`;
    return { ...base, outcome: "aborted", message, countsForCircuit: false };
  }

  const failure = error instanceof ProviderError ? error : new ProviderError("connection_error", String((error as Error)?.message ?? error));
  const status = failure.status;
  const message = failure.message;
  if (committed) return { ...base, status, outcome: "interrupted", message, countsForCircuit: true };
  switch (failure.kind) {
    case "rate_limited":
      // A 429 with Retry-After is handled by skipping until then; without it, it is a failure.
      return { outcome: "rate_limited", message, status, retryAfterMs: failure.retryAfterMs, countsForCircuit: failure.retryAfterMs === undefined };
    case "http_error":
      if (forwarded && blamesRequest(failure)) {
        return { ...base, status, outcome: "rejected", message, countsForCircuit: false, rejection: { status: status!, upstream: failure.upstream } };
      }
      return {
        ...base,
        status,
        outcome: "http_error",
        message,
        countsForCircuit: status === undefined || !REQUEST_FAULT_STATUSES.has(status),
        ...(status !== undefined && OPERATOR_FAULT_STATUSES.has(status) ? { permanent: true } : {}),
      };
    case "unsupported":
      return { ...base, outcome: "unsupported", message, countsForCircuit: false, param: failure.param };
    case "timeout":
      return { ...base, outcome: "timeout", message, countsForCircuit: true };
    case "malformed":
      return { ...base, outcome: "malformed", message, countsForCircuit: !(failure instanceof ReplyNotAccepted) };
    case "overloaded":
      // This instance's memory was full, not the provider at fault.
      return { ...base, outcome: "overloaded", message, countsForCircuit: false };
    default:
      return { ...base, outcome: "connection_error", message, countsForCircuit: true };
  }
}

function reasonText(reason: unknown): string {
  return reason instanceof Error || reason instanceof DOMException ? reason.message : String(reason);
}

/**
 * One upstream call's abort: the signal the provider gets and the controller the chain
 * aborts (its timers, the caller's stop, a provider freeze), in one small object. It does
 * what the providers use of an AbortController's signal (CallSignal) at a fraction of the
 * cost: Node 20 takes 4–9 µs to make an AbortSignal, and one was made for every call.
 * Listeners run once, in the order added, on the first abort; later aborts change nothing.
 */
export class CallAbort implements CallSignal {
  aborted = false;
  reason: unknown = undefined;
  /** Aborted by the provider's emergency stop (stopForProvider), not by a timer or the caller. */
  byProviderStop = false;
  private listeners: Array<() => void> | undefined;

  /** The signal side, so a call site reads like an AbortController's. */
  get signal(): CallSignal {
    return this;
  }

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException("This operation was aborted", "AbortError");
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }

  /** Aborts because an emergency stop took this call's provider out; the attempt says so. */
  stopForProvider(reason: unknown): void {
    if (!this.aborted) this.byProviderStop = true;
    this.abort(reason);
  }

  addEventListener(_type: "abort", listener: () => void): void {
    // As with an AbortSignal, a listener added after the abort is never called.
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.listeners!.splice(at, 1);
  }
}

/**
 * A child controller that aborts when any parent does, with that parent's reason. Call
 * `unlink` when done: parents may be long-lived (the emergency signal), and listeners left
 * on them would leak one closure per request.
 */
export function linkedController(...parents: Array<AbortSignal | undefined>): { controller: AbortController; unlink: () => void } {
  const controller = new AbortController();
  const cleanups: Array<() => void> = [];
  for (const parent of parents) {
    if (!parent) continue;
    if (parent.aborted) {
      controller.abort(parent.reason);
      break;
    }
    const onAbort = () => controller.abort(parent.reason);
    parent.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => parent.removeEventListener("abort", onAbort));
  }
  return { controller, unlink: () => cleanups.forEach((c) => c()) };
}

/**
 * How one chain request ends on the caller's side: its signal, or its stop (RequestStop),
 * subscribed once for the whole request; the call in flight is aborted when the stop lands.
 * This replaces a controller of the request's own (linked to the caller's signal) in front
 * of each call's controller: one AbortController and one signal listener less per request.
 */
/** One stop made of two: whichever lands first ends the request. */
export function eitherStop(a: RequestStop | undefined, b: RequestStop | undefined): RequestStop | undefined {
  if (!a || !b) return a ?? b;
  return (abort) => {
    const offA = a(abort);
    const offB = b(abort);
    return () => {
      offA();
      offB();
    };
  };
}

export class RequestEnd {
  private stopped = false;
  private stopReason: unknown;
  private current: { abort(reason: unknown): void } | undefined;
  private readonly off: (() => void) | undefined;

  constructor(private readonly request: { signal: AbortSignal; onStop?: RequestStop | undefined }) {
    this.off = request.onStop?.((reason) => {
      if (this.stopped) return;
      this.stopped = true;
      this.stopReason = reason;
      this.current?.abort(reason);
    });
  }

  get gone(): boolean {
    return this.stopped || this.request.signal.aborted;
  }

  /** The stop's reason, else the caller's signal's. */
  get reason(): unknown {
    return this.stopped ? this.stopReason : this.request.signal.reason;
  }

  /** Aborts `controller` (the call now in flight) when the stop lands; at once if it has. */
  follow(controller: { abort(reason: unknown): void }): void {
    this.current = controller;
    if (this.stopped) controller.abort(this.stopReason);
  }

  close(): void {
    this.current = undefined;
    this.off?.();
  }
}
