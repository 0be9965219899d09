/**
 * Calls to an identity provider while a person waits on the callback. Each is bounded in time
 * (a provider that accepts the connection and never answers must not hold the sign-in open),
 * and a provider that cannot be reached (refused, reset, silent past the bound) or fails on its
 * side (5xx) is told apart from one that answered "no": that is the gateway's upstream
 * failing, a 502 to try again later, not the person's mistake (a 400).
 */
import type { AppDeps } from "../../deps.ts";

/** Ten seconds: far above a healthy provider's answer, short enough for a person to wait. */
const DEFAULT_TIMEOUT_MS = 10_000;

export class ProviderUnreachable extends Error {
  override name = "ProviderUnreachable";
}

export function providerTimeoutMs(deps: Pick<AppDeps, "ssoUpstream">): number {
  return deps.ssoUpstream?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
}

/**
 * fetch, bounded by `timeoutMs` (besides any signal the caller passes; the bound covers the
 * body too), that throws ProviderUnreachable when no answer comes or the answer is a 5xx.
 */
export function providerFetch(timeoutMs: number) {
  return async (url: string, init: RequestInit = {}): Promise<Response> => {
    const bound = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, bound]) : bound });
    } catch (error) {
      throw new ProviderUnreachable(`${new URL(url).origin} did not answer`, { cause: error });
    }
    if (res.status >= 500) {
      await res.body?.cancel().catch(() => {});
      throw new ProviderUnreachable(`${new URL(url).origin} answered ${res.status}`);
    }
    return res;
  };
}

/**
 * Whether a sign-in failed because the provider could not be reached: ProviderUnreachable or a
 * timeout anywhere in the cause chain (openid-client wraps what fetch throws, and a body cut
 * by the bound surfaces as a TimeoutError while it is read).
 */
export function isProviderUnreachable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ProviderUnreachable || e.name === "TimeoutError") return true;
  }
  return false;
}
