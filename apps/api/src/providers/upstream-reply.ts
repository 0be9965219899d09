/**
 * What any upstream's answer means whatever its protocol: a body that must be JSON, a 429
 * and how long it asked us to wait, a detail short enough for a message. The protocols'
 * own meanings (error bodies, event shapes) are in openai-compatible.ts and anthropic.ts.
 */
import { retryAfterMsOf } from "./retry-after.ts";
import { ProviderError } from "./types.ts";
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

export function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
