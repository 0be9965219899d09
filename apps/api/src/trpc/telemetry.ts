/**
 * What the procedure middleware (init.ts) notes on the request scope: the procedure, and the
 * error code the client gets — also when a stream ends with an `error` event, which travels
 * inside a 200 response where no status tells it.
 */
import type { TRPCError } from "@trpc/server";
import type { Feature } from "../services/emergency/policy.ts";
import { noteErrorCode } from "../infra/request-scope.ts";
import { appErrorOf, toTRPCError } from "./errors.ts";

/** The AppError's code when there is one (EMERGENCY_STOP, UPSTREAM_ERROR…), else tRPC's. */
export const procedureErrorCode = (error: TRPCError): string => appErrorOf(error)?.code ?? error.code;

/** Chat and consensus streams report their failures as events; those are the ones observed. */
export const callsModels = (feature: Feature | undefined) => feature === "chat" || feature === "consensus";

export const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  value !== null && typeof value === "object" && Symbol.asyncIterator in value;

/** Passes a subscription's events through, noting an `error` event's code or a thrown error. */
export async function* observeStream(source: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  try {
    for await (const event of source) {
      const e = event as { type?: unknown; code?: unknown } | null;
      if (e?.type === "error" && typeof e.code === "string") noteErrorCode(e.code);
      yield event;
    }
  } catch (error) {
    noteErrorCode(procedureErrorCode(toTRPCError(error)));
    throw error;
  }
}
