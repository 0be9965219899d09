/** How a sign-in redirect ends: session cookies and a redirect, or a plain error page. */
import type { TAppErrorCode, TAuthTokens } from "@switchboard/schema";
import type { FastifyReply } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { noteErrorCode } from "../../infra/request-scope.ts";
import { isDatabaseUnavailable } from "../../infra/database-errors.ts";
import { AppError } from "../../services/errors.ts";
import { describeError, errorCodeOf, errorHeaders } from "../error-map.ts";
import { isProviderUnreachable } from "./upstream.ts";
import { ACCESS_COOKIE, REFRESH_COOKIE, secureCookies, sessionCookieOptions } from "../../trpc/cookies.ts";

/** The same cookies a password sign-in sets, then on to the admin. */
export function finishSignIn(deps: Pick<AppDeps, "env">, reply: FastifyReply, tokens: TAuthTokens, returnTo: string): FastifyReply {
  const secure = secureCookies(reply.request, deps.env.PUBLIC_URL);
  void reply.setCookie(ACCESS_COOKIE, tokens.accessToken, sessionCookieOptions(tokens.expiresIn, secure));
  void reply.setCookie(REFRESH_COOKIE, tokens.refreshToken, sessionCookieOptions(deps.env.REFRESH_TOKEN_TTL_SEC, secure));
  return reply.header("cache-control", "no-store").redirect(returnTo, 302);
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** The code a page's status counts under: an identity provider out of reach is no model upstream's error. */
const pageCodeOf = (status: number): TAppErrorCode => (status >= 500 ? "SERVICE_UNAVAILABLE" : errorCodeOf(status));

/**
 * A person is looking at this (the browser came back from the provider), so the answer is a
 * page saying what went wrong, with no session set.
 */
export function signInFailed(reply: FastifyReply, status: number, message: string, code: TAppErrorCode = pageCodeOf(status)): FastifyReply {
  noteErrorCode(reply.request.scope, code);
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed · Switchboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#1f2937}h1{font-size:1.4rem}p{line-height:1.5}a{color:#2563eb}</style>
</head><body><h1>Sign-in failed</h1><p>${escapeHtml(message)}</p><p><a href="/login">Back to sign-in</a></p></body></html>`;
  return reply.status(status).header("cache-control", "no-store").type("text/html; charset=utf-8").send(page);
}

/** A callback that ends no flow: none to end, or one it does not answer (left to go on). */
export function flowRefused(reply: FastifyReply, refused: "none" | "mismatch"): FastifyReply {
  return refused === "none"
    ? signInFailed(reply, 400, "This sign-in link has expired or was not started in this browser. Start again from the sign-in page.")
    : signInFailed(reply, 400, "The sign-in answer does not match the request (state check failed).");
}

/**
 * How long to wait before trying an unreachable provider again. Its trouble has no known end,
 * so a short pause, as the gateway states for a model provider whose circuit is open (5 s by
 * default) rather than a freeze's long one.
 */
const PROVIDER_RETRY_AFTER_SEC = 5;

/**
 * The provider out of reach (at login or at the callback): the gateway's upstream failing, as
 * a model provider's would be, so a 502 saying to try again, not a refusal of the person.
 */
export function providerUnreachable(reply: FastifyReply): FastifyReply {
  const described = describeError(
    new AppError("UPSTREAM_ERROR", "The identity provider cannot be reached right now; try again later.", { retryAfterSec: PROVIDER_RETRY_AFTER_SEC }),
  );
  // Retry-After in whole seconds, through the headers every dialect sends with an error.
  for (const [name, value] of Object.entries(errorHeaders(described))) void reply.header(name, value);
  return signInFailed(reply, described.status, described.message);
}

/**
 * Maps a refusal to the page: the provider out of reach is a 502, AppErrors keep their
 * meaning, anything else is an answer of the provider's that failed a check.
 */
export function signInError(reply: FastifyReply, error: unknown, log: { warn(obj: object, msg: string): void }): FastifyReply {
  if (isProviderUnreachable(error)) {
    log.warn({ err: error }, "single sign-on: the identity provider cannot be reached");
    return providerUnreachable(reply);
  }
  // The database gone is no fault of the provider's, and the driver's message (the database's
  // address) is not for the page: the error table's account of it is.
  if (error instanceof AppError || isDatabaseUnavailable(error)) {
    const described = describeError(error);
    if (described.internal) log.warn({ err: error }, "single sign-on failed on the server's side");
    // Retry-After for what passes (the database, a freeze, a limit), as every other dialect sends.
    for (const [name, value] of Object.entries(errorHeaders(described))) void reply.header(name, value);
    return signInFailed(reply, described.status, described.message, described.code);
  }
  log.warn({ err: error }, "single sign-on failed");
  const message = error instanceof Error ? error.message : "unknown error";
  return signInFailed(reply, 400, `The identity provider's answer could not be verified (${message}).`);
}
