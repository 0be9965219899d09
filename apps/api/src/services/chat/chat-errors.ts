/** Maps why the chain gave no answer to what a client sees: an AppError or a stream event code. */
import type { TAppErrorCode, TChatAttempt, TChatStreamErrorCode } from "@switchboard/schema";
import { AppError, soonestToRetry } from "../errors.ts";
import type { ChainError } from "../gateway/chain-types.ts";

/** An upstream's refusal of the request itself keeps its meaning: bad input, unknown model, too large. */
const REJECTION_CODES: Record<number, TAppErrorCode> = { 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE", 422: "UNPROCESSABLE" };

/** What the chain's own record cannot say about its attempts: read from state at the moment of failure. */
export interface ChainFailureContext {
  /**
   * Milliseconds until the provider of an attempt turned away for a while (rate limited
   * upstream, its circuit open) takes calls again, or null when nothing says.
   */
  waitMsOf(attempt: TChatAttempt): number | null;
  /** The EMERGENCY_STOP refusal of the freeze now taking `provider` out of chains, or null. */
  frozenRefusal(provider: TChatAttempt["provider"]): AppError | null;
}

const NO_CONTEXT: ChainFailureContext = { waitMsOf: () => null, frozenRefusal: () => null };

const RATE_LIMITED = new Set<string>(["rate_limited", "skipped_rate_limited"]);
/**
 * An attempt an emergency stop took out: skipped, or its call cut mid-way (in a chain that ran
 * out of providers, as opposed to one the caller or a feature freeze ended, "aborted" is only
 * ever a provider's freeze).
 */
const isFrozen = (attempt: TChatAttempt) => attempt.outcome === "skipped_frozen" || attempt.outcome === "aborted";

const secondsOf = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Every provider tried said it cannot serve this kind of request (n > 1 on Anthropic, a forced
 * tool call on the template): no upstream was called, and the same request will fail the same
 * way until it changes, so the caller's 400, not a retryable 502. `param` names the field when
 * every provider named the same one.
 */
function noProviderSupports(attempts: TChatAttempt[]): AppError {
  const params = new Set(attempts.map((a) => a.param));
  const param = params.size === 1 ? attempts[0]!.param : undefined;
  const reasons = attempts.map((a) => `${a.provider}: ${a.error ?? a.outcome}`).join("; ");
  const message = param ? `No provider for this model supports the request's ${param} (${reasons})` : `No provider for this model can serve the request (${reasons})`;
  return new AppError("BAD_REQUEST", message, {
    details: { ...(param ? { param, openaiCode: "unsupported_value" } : {}), shouldRetry: false, attempts },
  });
}

/**
 * Every provider that was called refused for a reason only an operator can clear (its
 * credentials, permissions, billing or quota; the others could not serve the request at all):
 * the same request fails the same way until then, so clients are told not to retry, where the
 * OpenAI SDK and LangChain would otherwise retry a 502 with back-off. When every refusal was an
 * exhausted quota, the answer is OpenAI's own for that: 429 `insufficient_quota`.
 */
function refusedUntilFixed(attempts: TChatAttempt[]): AppError {
  const refused = attempts.filter((a) => a.permanent);
  const reasons = refused.map((a) => `${a.provider}: ${a.error ?? a.outcome}`).join("; ");
  if (refused.every((a) => a.status === 429)) {
    return new AppError("TOO_MANY_REQUESTS", `Every provider for this request is out of quota (${reasons})`, {
      details: { openaiCode: "insufficient_quota", shouldRetry: false, attempts },
    });
  }
  return new AppError("UPSTREAM_ERROR", `No provider for this request accepted the gateway's credentials or account; an operator must fix it (${reasons})`, {
    details: { shouldRetry: false, attempts },
  });
}

const calledAndRefused = (attempts: TChatAttempt[]) =>
  attempts.some((a) => a.permanent) && attempts.every((a) => a.permanent || a.outcome === "unsupported");

/** For chat.send and the non-stream REST endpoint. */
export function appErrorOfChain(error: ChainError, context: ChainFailureContext): AppError {
  if (error.kind === "rejected" && error.rejection) {
    const { status, upstream } = error.rejection;
    const message = typeof upstream?.message === "string" ? upstream.message : error.message;
    return new AppError(REJECTION_CODES[status] ?? "BAD_REQUEST", message, {
      details: {
        // The provider's own type/param/code, so an OpenAI client sees the error as the provider sent it.
        ...(upstream ? { upstreamError: { type: upstream.type, param: upstream.param, code: upstream.code } } : {}),
        provider: error.attempts.at(-1)?.provider,
        attempts: error.attempts,
      },
    });
  }
  if (error.kind === "overloaded") {
    // Like the in-flight cap's refusal (load shedding): this instance is full for a moment.
    return new AppError("SERVICE_UNAVAILABLE", `The server is holding as many large upstream answers as it can; retry shortly (${error.message})`, {
      retryAfterSec: 1,
      details: { reason: "overloaded", attempts: error.attempts },
    });
  }
  if (error.kind === "aborted") {
    if (error.abortReason instanceof AppError) return error.abortReason;
    // A 503 always says when to retry: an abort not of the caller's making (the chain's own).
    return new AppError("SERVICE_UNAVAILABLE", "Request aborted before an answer arrived", { retryAfterSec: 1 });
  }
  const attempts = error.attempts;
  if (attempts.length === 0) return new AppError("UPSTREAM_ERROR", error.message, { details: { attempts } });
  if (attempts.every((a) => a.outcome === "unsupported")) return noProviderSupports(attempts);
  if (calledAndRefused(attempts)) return refusedUntilFixed(attempts);
  // Each frozen provider's freeze as it stands now (one may have been lifted meanwhile).
  const refusals = new Map(attempts.filter(isFrozen).map((a) => [a.provider, context.frozenRefusal(a.provider)]));
  const frozenWaitMs = (provider: TChatAttempt["provider"]) => (refusals.get(provider)?.retryAfterSec ?? 0) * 1000;
  if (attempts.every(isFrozen)) {
    const standing = [...refusals.values()];
    if (standing.every((r) => r !== null)) {
      // The freeze's own refusal says why and for how long: the soonest to end, when several
      // providers are frozen apart. A request that passed the gate just before a global freeze
      // landed ends here too.
      const soonest = soonestToRetry(standing as AppError[])!;
      return new AppError("EMERGENCY_STOP", soonest.message, { details: { ...soonest.details, attempts }, retryAfterSec: soonest.retryAfterSec });
    }
    // One lifted since: EMERGENCY_STOP would tell clients not to retry (x-should-retry: false).
    return new AppError("SERVICE_UNAVAILABLE", "A provider for this request was frozen a moment ago and is free again; retry", {
      details: { attempts },
      retryAfterSec: 1,
    });
  }
  // Every provider turned away for a while (rate limited upstream, frozen, its circuit open):
  // the client learns when the first of them takes calls again.
  const waits = attempts.map((a) => (isFrozen(a) ? frozenWaitMs(a.provider) : context.waitMsOf(a)));
  if (waits.every((w) => w !== null)) {
    const retryAfterSec = secondsOf(Math.min(...(waits as number[])));
    if (attempts.every((a) => RATE_LIMITED.has(a.outcome))) {
      return new AppError("TOO_MANY_REQUESTS", "Every provider for this request is rate limited upstream", { retryAfterSec, details: { attempts } });
    }
    return new AppError("UPSTREAM_ERROR", `${error.message}; every provider is rate limited, failing or frozen for now`, { retryAfterSec, details: { attempts } });
  }
  return new AppError("UPSTREAM_ERROR", error.message, { details: { attempts } });
}

/** A stream's closing `error` event: its code, message, and when the same request may succeed. */
export interface StreamErrorEvent {
  code: TChatStreamErrorCode;
  message: string;
  retryAfterSec?: number;
}

const withRetry = (event: Omit<StreamErrorEvent, "retryAfterSec">, retryAfterSec: number | undefined): StreamErrorEvent =>
  retryAfterSec === undefined ? event : { ...event, retryAfterSec };

/** For chat.stream's closing `error` event. */
export function streamErrorOf(error: ChainError, context: ChainFailureContext = NO_CONTEXT): StreamErrorEvent {
  switch (error.kind) {
    case "interrupted":
      return { code: "STREAM_INTERRUPTED", message: error.message };
    case "idle_timeout":
      return { code: "STREAM_IDLE_TIMEOUT", message: error.message };
    case "aborted": {
      const reason = error.abortReason instanceof AppError ? error.abortReason : undefined;
      if (reason?.code === "EMERGENCY_STOP") return withRetry({ code: "EMERGENCY_STOP", message: reason.message }, reason.retryAfterSec);
      // Stopped on purpose (the server shutting down): say so, not just "aborted".
      if (reason) return withRetry({ code: "ABORTED", message: reason.message }, reason.retryAfterSec);
      return { code: "ABORTED", message: "Request aborted" };
    }
    default: {
      // Upstream rate limits and frozen providers keep their wait; the code stays a stream code.
      const mapped = appErrorOfChain(error, context);
      return withRetry({ code: mapped.code === "EMERGENCY_STOP" ? "EMERGENCY_STOP" : "UPSTREAM_ERROR", message: mapped.message }, mapped.retryAfterSec);
    }
  }
}

/**
 * For a stream that broke after its first event, as an AppError: EMERGENCY_STOP stays itself,
 * and so does UNAUTHORIZED (the caller's session or API key ended mid-answer); the rest is an
 * UPSTREAM_ERROR whose `streamCode` says how it broke.
 */
export function streamAppErrorOf(error: ChainError): AppError {
  const { code, message } = streamErrorOf(error);
  if (code === "EMERGENCY_STOP" && error.abortReason instanceof AppError) return error.abortReason;
  if (error.kind === "aborted" && error.abortReason instanceof AppError && error.abortReason.code === "UNAUTHORIZED") return error.abortReason;
  return new AppError("UPSTREAM_ERROR", message, { details: { streamCode: code, openaiCode: code.toLowerCase(), attempts: error.attempts } });
}
