/**
 * What any upstream's answer means whatever its protocol: a body that must be JSON, a 429
 * and how long it asked us to wait, a detail short enough for a message. The protocols'
 * own meanings (error bodies, event shapes) are in openai-compatible.ts and anthropic.ts.
 */
import { retryAfterMsOf } from "./retry-after.ts";
import { ProviderError, type UpstreamError } from "./types.ts";
import type { WireReply } from "./upstream-http.ts";

/** A body or event as JSON; text that is not JSON (an HTML page, a cut body) is malformed. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ProviderError("malformed", "upstream sent malformed JSON", { cause: error });
  }
}

/** A 429: rate_limited, with how long the upstream asked us to wait when it said. */
export function rateLimited(reply: WireReply): ProviderError {
  const retryAfterMs = retryAfterMsOf((name) => {
    const value = reply.headers[name];
    return Array.isArray(value) ? value[0] : value;
  });
  return new ProviderError("rate_limited", "upstream rate limit (429)", { status: 429, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}

/**
 * A 429 whose error says the account has no credit left (OpenAI's `insufficient_quota`, which
 * compatible gateways copy) is no rate limit: no wait clears it, so it is an http_error that
 * keeps its status, and the chain knows to tell clients not to retry.
 */
export function tooManyRequests(reply: WireReply, upstream: UpstreamError | undefined): ProviderError {
  const quotaGone = upstream?.code === "insufficient_quota" || upstream?.type === "insufficient_quota";
  if (!quotaGone) return rateLimited(reply);
  return new ProviderError("http_error", `upstream quota exhausted (429): ${truncate(String(upstream.message))}`, { status: 429, upstream });
}

export function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
