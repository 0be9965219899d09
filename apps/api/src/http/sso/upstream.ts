/**
 * Calls to an identity provider while a person waits on the callback. Each is bounded in time
 * (OIDC_TIMEOUT_MS: a provider that accepts the connection and never answers must not hold
 * the sign-in open), and a provider that cannot be reached (refused, reset, silent past the
 * bound) or fails on its side (a 5xx, a 200 whose body is not JSON) is told apart from one
 * that answered "no": that is the gateway's upstream failing, a 502 to try again later, not
 * the person's mistake (a 400).
 */
import type { AppDeps } from "../../deps.ts";

export class ProviderUnreachable extends Error {
  override name = "ProviderUnreachable";
}

export function providerTimeoutMs(deps: Pick<AppDeps, "env">): number {
  return deps.env.OIDC_TIMEOUT_MS;
}

/** A signed userinfo answer is a JWT, not JSON; everything else a provider answers here is JSON. */
const isJwt = (res: Response) => res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() === "application/jwt";

/**
 * A success whose body is not JSON (a proxy's maintenance page, a body cut short) is the
 * provider failing, whoever reads it: openid-client would call it a failed check. Read from a
 * copy, within the bound, so the caller still reads the body as sent.
 */
async function requireJsonBody(res: Response, origin: string): Promise<void> {
  let text: string;
  try {
    text = await res.clone().text();
  } catch (error) {
    throw new ProviderUnreachable(`${origin} stopped answering`, { cause: error });
  }
  try {
    JSON.parse(text);
  } catch (error) {
    throw new ProviderUnreachable(`${origin} answered ${res.status} with a body that is not JSON`, { cause: error });
  }
}

/**
 * fetch, bounded by `timeoutMs` (besides any signal the caller passes; the bound covers the
 * body too), that throws ProviderUnreachable when no answer comes, the answer is a 5xx, or a
 * success is not JSON.
 */
export function providerFetch(timeoutMs: number) {
  return async (url: string, init: RequestInit = {}): Promise<Response> => {
    const bound = AbortSignal.timeout(timeoutMs);
    const { origin } = new URL(url);
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, bound]) : bound });
    } catch (error) {
      throw new ProviderUnreachable(`${origin} did not answer`, { cause: error });
    }
    if (res.status >= 500) {
      await res.body?.cancel().catch(() => {});
      throw new ProviderUnreachable(`${origin} answered ${res.status}`);
    }
    if (res.ok && res.status !== 204 && !isJwt(res)) await requireJsonBody(res, origin);
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
