/**
 * What a sign-in redirect must remember until the provider sends the browser back: state,
 * nonce and PKCE verifier. Kept in coordination (any instance can take the callback) under a
 * random id that only this browser holds, in a short-lived httpOnly cookie. SameSite=Lax:
 * the callback is a top-level navigation from the provider's site, which Strict would not
 * carry the cookie on. A flow is taken once, and only by a callback carrying its state: a
 * replayed callback, or the slower of two at once, finds nothing.
 */
import { randomBytes } from "node:crypto";
import type {} from "@fastify/cookie";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { secureCookies } from "../../trpc/cookies.ts";

export const FLOW_COOKIE = "sb_sso";
const FLOW_TTL_SEC = 600;

export interface SignInFlow {
  provider: "oidc" | "github";
  state: string;
  nonce?: string;
  verifier: string;
  redirectUri: string;
  returnTo: string;
}

const keyOf = (id: string) => `sso:flow:${id}`;

export async function startFlow(deps: Pick<AppDeps, "coordination" | "env">, reply: FastifyReply, flow: SignInFlow): Promise<void> {
  const id = randomBytes(24).toString("base64url");
  await deps.coordination.set(keyOf(id), JSON.stringify(flow), { ttlMs: FLOW_TTL_SEC * 1000 });
  void reply.setCookie(FLOW_COOKIE, id, {
    httpOnly: true,
    sameSite: "lax",
    secure: secureCookies(reply.request, deps.env.PUBLIC_URL),
    path: "/auth",
    maxAge: FLOW_TTL_SEC,
  });
}

/**
 * What a callback finds: the flow it ends, none (no cookie, expired, already used), or a flow
 * it does not answer (another provider's, or a `state` that is not the flow's).
 */
export type FlowAtCallback = { flow: SignInFlow } | { refused: "none" | "mismatch" };

/**
 * The flow this browser started, taken (forgotten) only by the callback that answers it: the
 * provider's and the `state` sent with it. A callback that does not match (a forged or stale
 * link opened in the same browser) leaves the flow and its cookie alone, so it cannot cancel
 * the sign-in under way.
 */
export async function takeFlow(
  deps: Pick<AppDeps, "coordination">,
  request: FastifyRequest,
  reply: FastifyReply,
  provider: SignInFlow["provider"],
): Promise<FlowAtCallback> {
  const id = request.cookies?.[FLOW_COOKIE];
  if (!id || id.length > 100) return { refused: "none" };
  const raw = await deps.coordination.get(keyOf(id));
  if (raw === null) {
    void reply.clearCookie(FLOW_COOKIE, { path: "/auth" });
    return { refused: "none" };
  }
  const flow = JSON.parse(raw) as SignInFlow;
  if (flow.provider !== provider || (request.query as { state?: unknown }).state !== flow.state) return { refused: "mismatch" };
  void reply.clearCookie(FLOW_COOKIE, { path: "/auth" });
  // Read and deleted in one step: of two matching callbacks racing with one cookie, one gets it.
  // A flow id is written once, so what is taken is what was read.
  return (await deps.coordination.take(keyOf(id))) === null ? { refused: "none" } : { flow };
}

const SAME_SITE = "http://switchboard.invalid";

/**
 * Where to go after signing in: a path on this server only (never another site), as a URL
 * parser reads it (a backslash is a slash to browsers), and percent-encoded where a Location
 * header cannot carry it as sent (non-ASCII, control characters), so the redirect that ends a
 * sign-in never fails once the session is made.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== "string" || value.length > 500 || !/^\/(?![/\\])[^\s]*$/.test(value)) return "/";
  const url = new URL(value, SAME_SITE);
  if (url.origin !== SAME_SITE) return "/";
  const path = `${url.pathname}${url.search}${url.hash}`;
  return /^\/(?![/\\])[\x21-\x7e]*$/.test(path) && path.length <= 2000 ? path : "/";
}

/** This server's public base URL, for redirect URIs (PUBLIC_URL behind a proxy). */
export function publicBase(deps: Pick<AppDeps, "env">, request: FastifyRequest): string {
  return (deps.env.PUBLIC_URL ?? `${request.protocol}://${request.host}`).replace(/\/+$/, "");
}
