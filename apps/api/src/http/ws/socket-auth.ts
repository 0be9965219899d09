/**
 * Who is on a WebSocket. Browsers cannot set headers on a WebSocket, so a token may come as
 * a subprotocol (`bearer.<token>`), in the Authorization header (programs), or later as the
 * first message. The session cookie is accepted only from the server's own origin or a
 * CORS_ORIGINS one: a page elsewhere could otherwise open a socket with the user's cookie.
 */
import type { FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { ACCESS_COOKIE, readAccessToken } from "../../trpc/cookies.ts";

/**
 * How a signed-in socket whose token no longer resolves (signed out, expired, disabled, role
 * changed) is closed, after its call or chat was refused with SESSION_ENDED_MESSAGE: 1008
 * (policy), so the client signs in again. The same on /ws/chat and tRPC's socket.
 */
export const SESSION_ENDED_CLOSE = { code: 1008, reason: "Session ended" } as const;

/**
 * How a signed-in socket is closed when its token expires (an access token's `exp`, an API
 * key's `expiresAt`), idle or not: 1008 too, with a reason that tells the client to refresh
 * its token and reconnect rather than sign in again (session-close.ts).
 */
export const TOKEN_EXPIRED_CLOSE = { code: 1008, reason: "Token expired" } as const;
/** The error /ws/chat sends before that close. */
export const TOKEN_EXPIRED_MESSAGE = "Token expired; refresh it and reconnect";

/** The subprotocol a browser offers beside `bearer.<token>`; the server answers with it. */
export const WS_PROTOCOL = "switchboard";
const BEARER_PROTOCOL_PREFIX = "bearer.";

export function tokenFromProtocols(header: string | string[] | undefined): string | undefined {
  const offered = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((p) => p.trim());
  const bearer = offered.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  return bearer ? bearer.slice(BEARER_PROTOCOL_PREFIX.length) || undefined : undefined;
}

/** Chooses the answered subprotocol: ours when offered, else the first (a browser needs one back). */
export function chooseProtocol(protocols: Set<string>): string | false {
  if (protocols.has(WS_PROTOCOL)) return WS_PROTOCOL;
  const first = protocols.values().next();
  return first.done ? false : first.value;
}

/** True when the Origin (if any) is this server itself or one of CORS_ORIGINS. */
export function originAllowed(deps: Pick<AppDeps, "env">, request: Pick<FastifyRequest, "headers" | "protocol">): boolean {
  const origin = request.headers.origin;
  // No Origin: not a browser, so no other site's page can be behind it.
  if (origin === undefined) return true;
  if (deps.env.CORS_ORIGINS.includes(origin)) return true;
  const host = request.headers.host;
  if (!host || !URL.canParse(origin)) return false;
  return new URL(origin).host === host;
}

/** The token of the upgrade request: header or subprotocol, else the cookie when the Origin may use it. */
export function upgradeToken(deps: Pick<AppDeps, "env">, request: FastifyRequest): { token: string | undefined; cookieRefused: boolean } {
  const explicit = readAccessToken(request.headers.authorization, undefined) ?? tokenFromProtocols(request.headers["sec-websocket-protocol"]);
  if (explicit) return { token: explicit, cookieRefused: false };
  const cookie = request.cookies?.[ACCESS_COOKIE];
  if (!cookie) return { token: undefined, cookieRefused: false };
  return originAllowed(deps, request) ? { token: cookie, cookieRefused: false } : { token: undefined, cookieRefused: true };
}
