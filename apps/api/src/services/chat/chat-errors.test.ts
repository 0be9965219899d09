/**
 * What a client is told when the provider chain ran out of providers: the code, and when the
 * same request may succeed (Retry-After) whenever every provider was only turned away for a
 * while — rate limited upstream, frozen, its circuit open.
 */
import { describe, expect, it } from "vitest";
import type { TAttemptOutcome, TChatAttempt, TProviderId } from "@switchboard/schema";
import { AppError } from "../errors.ts";
import { ChainError } from "../gateway/chain-types.ts";
import { appErrorOfChain, streamErrorOf, type ChainFailureContext } from "./chat-errors.ts";

const attempt = (provider: TProviderId, outcome: TAttemptOutcome): TChatAttempt => ({ provider, model: "m", outcome, latencyMs: 0 });
const exhausted = (...attempts: TChatAttempt[]) => new ChainError("exhausted", "No provider could answer", { attempts });
const freeze = (scope: string, retryAfterSec: number) =>
  new AppError("EMERGENCY_STOP", `Emergency stop (${scope}): drill`, { details: { reason: "drill", scope }, retryAfterSec });

/** Waits and freezes as the test says; a provider absent from either has none. */
function context(waits: Partial<Record<TProviderId, number>>, freezes: Partial<Record<TProviderId, AppError>>): ChainFailureContext {
  return { waitMsOf: (a) => waits[a.provider] ?? null, frozenRefusal: (provider) => freezes[provider] ?? null };
}

describe("appErrorOfChain", () => {
  it("a chain ended only by freezes is the freeze's 503, waiting for the soonest to end", () => {
    const error = appErrorOfChain(exhausted(attempt("openai", "skipped_frozen"), attempt("beta", "aborted")), context({}, { openai: freeze("provider:openai", 3600), beta: freeze("provider:beta", 60) }));
    expect(error).toMatchObject({ code: "EMERGENCY_STOP", retryAfterSec: 60, message: "Emergency stop (provider:beta): drill", details: { scope: "provider:beta" } });
  });

  it("a freeze lifted since the chain ran is a 503 to retry at once, not EMERGENCY_STOP", () => {
    const error = appErrorOfChain(exhausted(attempt("openai", "skipped_frozen"), attempt("beta", "skipped_frozen")), context({}, { openai: freeze("provider:openai", 3600) }));
    expect(error).toMatchObject({ code: "SERVICE_UNAVAILABLE", retryAfterSec: 1 });
  });

  it("only upstream rate limits: 429 with the shortest wait", () => {
    const error = appErrorOfChain(exhausted(attempt("openai", "rate_limited"), attempt("beta", "skipped_rate_limited")), context({ openai: 30_000, beta: 4_200 }, {}));
    expect(error).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterSec: 5 });
  });

  it("a mix of waits (rate limit, circuit open, freeze): 502 saying when the first provider is back", () => {
    const error = appErrorOfChain(
      exhausted(attempt("openai", "rate_limited"), attempt("beta", "skipped_circuit_open"), attempt("ollama", "skipped_frozen")),
      context({ openai: 30_000, beta: 12_000 }, { ollama: freeze("provider:ollama", 20) }),
    );
    expect(error).toMatchObject({ code: "UPSTREAM_ERROR", retryAfterSec: 12 });
  });

  it("one provider failing with no known end: 502 without Retry-After", () => {
    const error = appErrorOfChain(exhausted(attempt("openai", "rate_limited"), attempt("beta", "http_error")), context({ openai: 30_000 }, {}));
    expect(error.code).toBe("UPSTREAM_ERROR");
    expect(error.retryAfterSec).toBeUndefined();
  });

  it("every provider unable to serve the request: the caller's 400 naming the field, not to be retried", () => {
    const unsupported = (provider: TProviderId, param: string | undefined): TChatAttempt => ({ ...attempt(provider, "unsupported"), error: `${provider} cannot`, ...(param ? { param } : {}) });
    const error = appErrorOfChain(exhausted(unsupported("claude", "n"), unsupported("claude-eu", "n")), context({}, {}));
    expect(error).toMatchObject({ code: "BAD_REQUEST", message: "No provider for this model supports the request's n (claude: claude cannot; claude-eu: claude-eu cannot)", details: { param: "n", shouldRetry: false } });
    expect(error.retryAfterSec).toBeUndefined();
    // Two providers, two different reasons: no one field to name.
    const mixed = appErrorOfChain(exhausted(unsupported("claude", "n"), unsupported("template", "tool_choice")), context({}, {}));
    expect(mixed).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^No provider for this model can serve the request/) });
    expect(mixed.details["param"]).toBeUndefined();
    // One provider that could serve it but is down now: the request is not at fault.
    expect(appErrorOfChain(exhausted(unsupported("claude", "n"), attempt("beta", "http_error")), context({}, {})).code).toBe("UPSTREAM_ERROR");
  });

  it("every provider called refusing its credentials or account: 502 not to be retried, naming each", () => {
    const refused = (provider: TProviderId, status: number): TChatAttempt => ({ ...attempt(provider, "http_error"), status, error: `upstream answered ${status}`, permanent: true });
    const error = appErrorOfChain(exhausted(refused("openai", 401), refused("beta", 403)), context({}, {}));
    expect(error).toMatchObject({ code: "UPSTREAM_ERROR", details: { shouldRetry: false } });
    expect(error.message).toBe("No provider for this request accepted the gateway's credentials or account; an operator must fix it (openai: upstream answered 401; beta: upstream answered 403)");
    expect(error.retryAfterSec).toBeUndefined();
    // A provider that could not serve the request at all changes nothing.
    const withUnsupported = appErrorOfChain(exhausted(refused("openai", 401), { ...attempt("claude", "unsupported"), param: "n" }), context({}, {}));
    expect(withUnsupported).toMatchObject({ code: "UPSTREAM_ERROR", details: { shouldRetry: false } });
    // Only quotas gone: OpenAI's own 429 for that.
    const quota = appErrorOfChain(exhausted(refused("openai", 429), refused("beta", 429)), context({}, {}));
    expect(quota).toMatchObject({ code: "TOO_MANY_REQUESTS", details: { openaiCode: "insufficient_quota", shouldRetry: false } });
    // One provider failing for a while: a retry may find it back, so nothing is said.
    const mixed = appErrorOfChain(exhausted(refused("openai", 401), attempt("beta", "http_error")), context({}, {}));
    expect(mixed.code).toBe("UPSTREAM_ERROR");
    expect(mixed.details["shouldRetry"]).toBeUndefined();
  });

  it("a stream's error event keeps the wait under its stream code", () => {
    const event = streamErrorOf(exhausted(attempt("openai", "rate_limited")), context({ openai: 2_000 }, {}));
    expect(event).toEqual({ code: "UPSTREAM_ERROR", message: "Every provider for this request is rate limited upstream", retryAfterSec: 2 });
  });
});
