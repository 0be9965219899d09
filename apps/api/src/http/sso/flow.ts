/**
 * What a sign-in redirect must remember until the provider sends the browser back: state,
 * nonce and PKCE verifier. Kept in coordination (any instance can take the callback) under a
 * random id that only this browser holds, in a short-lived httpOnly cookie. SameSite=Lax:
 * the callback is a top-level navigation from the provider's site, which Strict would not
 * carry the cookie on. A flow is taken once: a replayed callback finds nothing.
 */
import { randomBytes } from "node:crypto";
import type {} from "@fastify/cookie";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";

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
    secure: deps.env.NODE_ENV === "production",
    path: "/auth",
    maxAge: FLOW_TTL_SEC,
  });
}

/** The flow this browser started (and forgets it), or null. */
export async function takeFlow(deps: Pick<AppDeps, "coordination">, request: FastifyRequest, reply: FastifyReply): Promise<SignInFlow | null> {
  const id = request.cookies?.[FLOW_COOKIE];
  void reply.clearCookie(FLOW_COOKIE, { path: "/auth" });
  if (!id || id.length > 100) return null;
  const raw = await deps.coordination.get(keyOf(id));
  if (raw === null) return null;
  await deps.coordination.del(keyOf(id));
  return JSON.parse(raw) as SignInFlow;
}

/** Where to go after signing in: a path on this server only (never another site). */
export function safeReturnTo(value: unknown): string {
  return typeof value === "string" && /^\/(?![/\\])[^\s]*$/.test(value) && value.length <= 500 ? value : "/";
}

/** This server's public base URL, for redirect URIs (PUBLIC_URL behind a proxy). */
export function publicBase(deps: Pick<AppDeps, "env">, request: FastifyRequest): string {
  return (deps.env.PUBLIC_URL ?? `${request.protocol}://${request.host}`).replace(/\/+$/, "");
}
