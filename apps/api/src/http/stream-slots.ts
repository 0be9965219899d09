/**
 * Streams hold a socket and memory for as long as they stay open, so each takes a slot of
 * `deps.streams`: per signed-in user (STREAMS_PER_USER), per anonymous client IP
 * (WATCH_STREAMS_PER_IP, the public emergency.watch) and per instance (MAX_STREAMS). Every
 * transport takes it here before its stream starts — subscriptions over SSE and over tRPC's
 * WebSocket, /api/chat/stream, /v1/chat/completions with stream: true, /ws/chat chats — and
 * frees it when the stream ends, however it ends.
 */
import type { ServerResponse } from "node:http";
import type { AppDeps } from "../deps.ts";
import { whenResponseClosed } from "../infra/response-closed.ts";
import { AppError } from "../services/errors.ts";
import { addressKey } from "./client-address.ts";

/** Seconds a refused stream is told to wait: streams are long, a slot frees when one ends. */
export const STREAM_RETRY_AFTER_SEC = 5;

/** Who opens the stream: the signed-in user, else (anonymous) the client's address. */
export interface StreamCaller {
  user: { id: string } | null;
  ip: string | undefined;
}

/**
 * Takes the caller's slot and returns its release (safe to call more than once). Beyond a
 * cap, throws TOO_MANY_REQUESTS with Retry-After; `details` go into the error's data.
 */
export function takeStreamSlot(deps: Pick<AppDeps, "streams" | "env">, caller: StreamCaller, details?: Record<string, unknown>): () => void {
  const { user } = caller;
  // An address the transport could not tell is still an address: all such callers share it.
  const slot = deps.streams.acquire(user ? { kind: "user", id: user.id } : { kind: "ip", ip: addressKey(caller.ip ?? "unknown") });
  if (slot.ok) return slot.release;
  const limit =
    slot.reason === "total"
      ? `this instance's limit of ${deps.env.MAX_STREAMS} open streams`
      : user
        ? `the limit of ${deps.env.STREAMS_PER_USER} open streams per user`
        : `the limit of ${deps.env.WATCH_STREAMS_PER_IP} open anonymous streams per address`;
  throw new AppError("TOO_MANY_REQUESTS", `Too many open streams: ${limit}; close one or retry later`, {
    retryAfterSec: STREAM_RETRY_AFTER_SEC,
    ...(details ? { details } : {}),
  });
}

/**
 * Takes the caller's slot for a stream answered on `res` (takeStreamSlot) and frees it when
 * the response is over, however it ends — at once if the client already left while the
 * request was being authorized.
 */
export function holdStreamSlot(deps: Pick<AppDeps, "streams" | "env">, caller: StreamCaller, res: ServerResponse, details?: Record<string, unknown>): void {
  whenResponseClosed(res, takeStreamSlot(deps, caller, details));
}
