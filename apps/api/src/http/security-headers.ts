/**
 * Security headers on every response (@fastify/helmet): a Content-Security-Policy the admin
 * SPA runs under (its own scripts and styles only, no framing), nosniff, a strict referrer
 * policy; HSTS only on requests that arrived over TLS (directly or, with TRUST_PROXY, at the
 * proxy), since a plain-HTTP LAN install must not be told to insist on HTTPS.
 */
import fastifyHelmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";

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

const HSTS = "max-age=31536000; includeSubDomains";

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    referrerPolicy: { policy: "no-referrer" },
    // Set below, per request.
    strictTransportSecurity: false,
    // The API is called cross-origin by allowed browser clients (CORS_ORIGINS).
    crossOriginResourcePolicy: { policy: "same-site" },
  });
  app.addHook("onSend", async (request, reply) => {
    if (request.protocol === "https") void reply.header("strict-transport-security", HSTS);
  });
}
