/**
 * Security headers on every response (helmet): a Content-Security-Policy the admin SPA runs
 * under (its own scripts and styles only, no framing), nosniff, a strict referrer policy;
 * HSTS only on requests that arrived over TLS (directly or, with TRUST_PROXY, at the proxy),
 * since a plain-HTTP LAN install must not be told to insist on HTTPS.
 *
 * Our policy is the same for every response, so helmet runs once at start and each request
 * only copies the resulting headers. Running helmet per request (as @fastify/helmet does)
 * re-parsed the CSP directives every time: ~2.5% of the gateway's CPU per proxied chat call.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import helmet, { type HelmetOptions } from "helmet";

export const CONTENT_SECURITY_POLICY = {
  "default-src": ["'self'"],
  "script-src": ["'self'"],
  // React and the charts set style attributes; no script can come in through them.
  "style-src": ["'self'", "'unsafe-inline'"],
  "img-src": ["'self'", "data:"],
  "font-src": ["'self'", "data:"],
  "connect-src": ["'self'"],
  "object-src": ["'none'"],
  "base-uri": ["'self'"],
  "frame-ancestors": ["'none'"],
};

const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
  referrerPolicy: { policy: "no-referrer" },
  // Set per request, below.
  strictTransportSecurity: false,
  // The API is called cross-origin by allowed browser clients (CORS_ORIGINS).
  crossOriginResourcePolicy: { policy: "same-site" },
};

const HSTS = "max-age=31536000; includeSubDomains";

/** The headers helmet sets for our options, captured by running it once on a stand-in response. */
export function staticSecurityHeaders(options: HelmetOptions = HELMET_OPTIONS): Array<[string, string]> {
  const headers: OutgoingHttpHeaders = {};
  const response = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = value),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let failure: unknown;
  helmet(options)({} as never, response as never, (error?: unknown) => void (failure = error));
  if (failure) throw failure;
  return Object.entries(headers).map(([name, value]) => [name, String(value)]);
}

/**
 * Our headers, worked out once (at start, so a bad policy stops the process there). Also
 * what answers written outside Fastify carry (http/client-errors.ts); those cannot know the
 * scheme, so they go without HSTS, which a browser only heeds over TLS anyway.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = staticSecurityHeaders();

/** Sets the headers on the raw response, so hijacked streams and early refusals carry them too. */
export function applySecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const raw = reply.raw;
  for (const [name, value] of SECURITY_HEADERS) raw.setHeader(name, value);
  if (request.protocol === "https") raw.setHeader("strict-transport-security", HSTS);
}

export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook("onRequest", (request, reply, done) => {
    applySecurityHeaders(request, reply);
    done();
  });
}
