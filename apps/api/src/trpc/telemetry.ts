/**
 * What the procedure middleware (init.ts) notes on the request scope: the procedure, and the
 * error code the client gets — also when a stream ends with an `error` event, which travels
 * inside a 200 response where no status tells it — and, when the request log keeps bodies,
 * a gateway stream's answer assembled into one body (services/request-log/stream-body.ts).
 */
import type { TRPCError } from "@trpc/server";
import type { Feature } from "../services/emergency/policy.ts";
import { noteErrorCode, noteResponseBody, type RequestScope } from "../infra/request-scope.ts";
import { StreamBody } from "../services/request-log/index.ts";
import { appErrorOf, toTRPCError } from "./errors.ts";

/** The AppError's code when there is one (EMERGENCY_STOP, UPSTREAM_ERROR…), else tRPC's. */
export const procedureErrorCode = (error: TRPCError): string => appErrorOf(error)?.code ?? error.code;

/** Chat and consensus streams report their failures as events; those are the ones observed. */
export const callsModels = (feature: Feature | undefined) => feature === "chat" || feature === "consensus";

export const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  value !== null && typeof value === "object" && Symbol.asyncIterator in value;

/**
 * Passes a subscription's events through, noting an `error` event's code or a thrown error.
 * With `keepBody` (the request log stores bodies) the events are also assembled into the
 * request's response body; noted here, on the caller's request scope, and read when its
 * log row is written, so a stream cut short is logged with what it had sent.
 */
export function observeStream(source: AsyncIterable<unknown>, keepBody: boolean, scope: RequestScope | undefined): AsyncGenerator<unknown> {
  if (!keepBody) return observe(source, undefined, scope);
  const body = new StreamBody();
  noteResponseBody(scope, () => body.text());
  return observe(source, body, scope);
}

async function* observe(source: AsyncIterable<unknown>, body: StreamBody | undefined, scope: RequestScope | undefined): AsyncGenerator<unknown> {
  try {
    for await (const event of source) {
      const e = event as { type?: unknown; code?: unknown } | null;
      if (e?.type === "error" && typeof e.code === "string") noteErrorCode(scope, e.code);
      body?.add(event);
      yield event;
    }
  } catch (error) {
    noteErrorCode(scope, procedureErrorCode(toTRPCError(error)));
    throw error;
  }
}
