/**
 * A gateway call made over a WebSocket — a /ws/chat chat, a chat.* or consensus.* call over
 * tRPC's WebSocket — logged as an HTTP request is: it has a request scope of its own, handed
 * to the layers below (the tRPC context's `req.scope`), where they note the user, model,
 * upstream calls, error code and (when kept) the response body. It ends as an HTTP request
 * does (scope-log.ts): one request-log row, so it shows in the Logs page and in spend like any
 * other call, one access-log line and the gateway metrics, with method WS and the row's route.
 * A socket has no HTTP status: the turn carries the status the same outcome gets over HTTP —
 * 200 once the stream opened (a failure reported in it is the error code, as for SSE), else
 * the refusal's.
 */
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { AppDeps } from "../../deps.ts";
import { newScope, type RequestScope } from "../../infra/request-scope.ts";
import type { CallResult, ProcedureCall } from "../../trpc/context.ts";
import { isAsyncIterable } from "../../trpc/telemetry.ts";
import type { Surface } from "../../services/metrics/prometheus.ts";
import { endScope, isGatewayProcedure } from "../scope-log.ts";

/** The method a socket call's row shows, beside its route (the endpoint or the procedure). */
const SOCKET_METHOD = "WS";

type TurnDeps = Pick<AppDeps, "requestLog" | "metrics" | "log">;

export interface TurnStart {
  requestId: string;
  /** The row's route: the endpoint (/ws/chat) or the procedure. */
  route: string;
  /** The path the socket was opened on. */
  url: string;
  /** The gateway metrics' `surface` label: the protocol spoken on the socket. */
  surface: Surface;
  ip: string | undefined;
  stream: boolean;
  /** Read only when the log keeps bodies. */
  requestBody: () => string | undefined;
  /** The socket's upgrade request's tags (x-switchboard-tags). */
  tags: readonly string[] | undefined;
}

export class SocketTurn {
  readonly scope: RequestScope;
  private ended = false;

  constructor(
    private readonly deps: TurnDeps,
    private readonly start: TurnStart,
  ) {
    this.scope = newScope(start.requestId, true);
    this.scope.stream = start.stream;
    this.scope.tags = start.tags;
  }

  /**
   * `source` as it is; the turn ends (200) with it, however it ends: completed when the
   * source ran out or failed, cut short when the client stopped reading (unsubscribed, left).
   * `stopped` aborts when the client stops the stream: tRPC then returns a stream it has not
   * read yet without reading it, and a generator never started runs no `finally` — so
   * until the first read, the stop itself ends the turn.
   */
  stream<T>(source: AsyncIterable<T>, stopped: AbortSignal | undefined): AsyncGenerator<T> {
    let read = false;
    const endUnread = () => {
      if (!read) this.end(200, false);
    };
    if (stopped?.aborted) endUnread();
    else stopped?.addEventListener("abort", endUnread, { once: true });
    return this.read(source, () => {
      read = true;
      stopped?.removeEventListener("abort", endUnread);
    });
  }

  private async *read<T>(source: AsyncIterable<T>, onFirstRead: () => void): AsyncGenerator<T> {
    onFirstRead();
    const iterator = source[Symbol.asyncIterator]();
    let completed = false;
    try {
      for (;;) {
        let next: IteratorResult<T>;
        try {
          next = await iterator.next();
        } catch (error) {
          completed = true;
          throw error;
        }
        if (next.done) {
          completed = true;
          return;
        }
        yield next.value;
      }
    } finally {
      await iterator.return?.()?.catch(() => {});
      this.end(200, completed);
    }
  }

  /**
   * Ends the turn: its metrics, row and access-log line; only the first call counts.
   * `completed` is false when the client left before the answer was sent in full.
   */
  end(status: number, completed = true): void {
    if (this.ended) return;
    this.ended = true;
    const { scope, start } = this;
    // The line names the turn's own id, which its row carries too.
    endScope(this.deps, this.deps.log.child({ reqId: scope.requestId }), scope, {
      method: SOCKET_METHOD,
      route: start.route,
      url: start.url,
      surface: start.surface,
      status,
      completed,
      ip: start.ip,
      requestBody: start.requestBody,
    });
  }
}

/** The HTTP status a refused call gets (what the tRPC HTTP adapter would answer). */
export const refusalStatus = (error: TRPCError): number => getHTTPStatusCodeFromError(error);

/** Runs a call in its turn: `run` gets the turn's scope (undefined for a call that is none). */
export type TurnRunner = <R extends CallResult>(call: ProcedureCall, run: (scope: RequestScope | undefined) => Promise<R>) => Promise<R>;

/**
 * For tRPC over a WebSocket (trpc-socket.ts): each gateway procedure call is a turn; others
 * run as they are. `requestId` names each call (the socket's id and a count). Who makes the
 * call is noted on the turn's scope when the socket's token is resolved for it.
 */
export function socketCalls(deps: TurnDeps, socket: { ip: string | undefined; requestId: () => string; tags: readonly string[] | undefined }): TurnRunner {
  return async (call, run) => {
    if (!isGatewayProcedure(call.path)) return run(undefined);
    const input = deps.requestLog.storeBodies ? await call.getRawInput().catch(() => undefined) : undefined;
    const turn = new SocketTurn(deps, {
      requestId: socket.requestId(),
      route: call.path,
      url: "/trpc",
      surface: "trpc",
      ip: socket.ip,
      stream: call.type === "subscription",
      requestBody: () => (input === undefined ? undefined : JSON.stringify(input)),
      tags: socket.tags,
    });
    let result;
    try {
      result = await run(turn.scope);
    } catch (error) {
      // A refusal thrown by a layer of the runner (the stream slot) keeps its status.
      turn.end(error instanceof TRPCError ? refusalStatus(error) : 500);
      throw error;
    }
    if (!result.ok) turn.end(refusalStatus(result.error));
    else if (call.type === "subscription" && isAsyncIterable(result.data)) return { ...result, data: turn.stream(result.data, call.signal) };
    else turn.end(200);
    return result;
  };
}
