/**
 * A cap on the WebSockets one client address holds open on an instance (WS_SOCKETS_PER_IP),
 * whoever signs in on them: each socket may hold up to MAX_BUFFERED_BYTES of unread replies
 * (slow-reader.ts), so without it one address could make the server hold that many times over.
 * A place is taken when the upgrade request arrives, before the handshake, and given back
 * when its connection closes, however it closes (a refused upgrade's connection is closed
 * after the answer), so the count cannot drift. Beyond the cap the upgrade is refused with
 * 429 and Retry-After. The address is `request.ip`, which follows TRUST_PROXY (an IPv6
 * client counts by its /64: client-address.ts).
 */
import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";
import { AppError } from "../../services/errors.ts";
import { addressKey } from "../client-address.ts";

/**
 * The client address of each upgrade request (`request.ip`, behind a trusted proxy the
 * client's own), for what happens on the socket later (slow-reader.ts's log line): the
 * socket's peer address would name the proxy.
 */
const clientAddresses = new WeakMap<IncomingMessage, string>();
export const clientAddressOf = (raw: IncomingMessage): string | undefined => clientAddresses.get(raw);

/** Seconds a refused client is told to wait: sockets close on their own schedule. */
const RETRY_AFTER_SEC = 5;

export function registerSocketsPerAddress(app: FastifyInstance, limit: number): void {
  const open = new Map<string, number>();
  const release = (ip: string) => {
    const left = (open.get(ip) ?? 1) - 1;
    if (left > 0) open.set(ip, left);
    else open.delete(ip);
  };
  // Callback style, not async: this runs for every request.
  app.addHook("onRequest", (request, _reply, done) => {
    const raw = request.raw as IncomingMessage & { upgrade?: boolean };
    // A connection already gone (reset while an earlier hook waited) will not upgrade, and
    // would never report its close: it takes no place.
    if (raw.upgrade !== true || raw.socket.destroyed) return done();
    clientAddresses.set(raw, request.ip);
    const ip = addressKey(request.ip);
    const held = open.get(ip) ?? 0;
    if (held >= limit) {
      return done(new AppError("TOO_MANY_REQUESTS", `Too many open WebSockets from this address (limit ${limit})`, { retryAfterSec: RETRY_AFTER_SEC }));
    }
    open.set(ip, held + 1);
    request.raw.socket.once("close", () => release(ip));
    done();
  });
}
