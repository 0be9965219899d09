/**
 * A typed client for other TypeScript services:
 *
 *   const sb = createSwitchboardClient({ url: "http://127.0.0.1:3000", token });
 *   const me = await sb.auth.me.query();
 *
 * Types come from the API's router through a type-only import, so nothing of the server is
 * bundled; the published build (scripts/build.ts) writes that type out in full in its own
 * index.d.ts, so consumers never need the server package. Wire format is plain JSON (no transformer), same as curl would see.
 */
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
  wsLink,
  type TRPCClient,
  type TRPCLink,
} from "@trpc/client";
import type { AppRouter } from "@switchboard/api";
import { EventSource } from "eventsource";

export type { AppRouter };
export { TRPCClientError };

export interface SwitchboardClientOptions {
  /** Base URL of a Switchboard instance, e.g. http://127.0.0.1:3000 (no /trpc suffix). */
  url: string;
  /**
   * An access token or an API key (`sb-…`), or a function returning the current one (for
   * refresh flows).
   */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** Custom fetch (tests, proxies). */
  fetch?: typeof globalThis.fetch;
  /**
   * How subscriptions travel: "sse" (default, plain HTTP) or "websocket" (one socket per
   * client, at /trpc). Queries and mutations always use HTTP.
   */
  transport?: "sse" | "websocket";
  /** A WebSocket implementation where there is no global one (Node 20: the `ws` package). */
  WebSocket?: typeof globalThis.WebSocket;
}

export type SwitchboardClient = TRPCClient<AppRouter>;

export function createSwitchboardClient(opts: SwitchboardClientOptions): SwitchboardClient {
  const url = `${opts.url.replace(/\/+$/, "")}/trpc`;
  const tokenOf = async () => (typeof opts.token === "function" ? await opts.token() : opts.token);
  const headers = async (): Promise<Record<string, string>> => {
    const token = await tokenOf();
    return token ? { authorization: `Bearer ${token}` } : {};
  };
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: opts.transport === "websocket" ? socketLink(url, tokenOf, opts.WebSocket) : httpSubscriptionLink({
          url,
          EventSource,
          eventSourceOptions: async () => {
            const auth = await headers();
            const baseFetch = opts.fetch ?? globalThis.fetch;
            return {
              fetch: (input, init) =>
                baseFetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...auth } }),
            };
          },
        }) as TRPCLink<AppRouter>,
        // Alone: auth.* (the server refuses it inside a batch of several calls: sign-in limits
        // count requests) and config.import (a whole document: its 16 MB limit is on its own
        // route, a batch keeps 1 MB). Everything else is batched.
        false: splitLink({
          condition: (op) => op.path.startsWith("auth.") || op.path === "config.import",
          true: httpLink({ url, headers, methodOverride: "POST", ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
          // POST for queries too (the server allows it): inputs such as prompts stay out of URLs.
          // At most the server's TRPC_LIMITS.maxBatchSize calls per request (more go in another);
          // a literal, as the client carries no runtime dependency on the schema package
          // (batch-limit.integration.test.ts fails if it is ever larger than the server's).
          false: httpBatchLink({ url, headers, methodOverride: "POST", maxItems: 100, ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
        }),
      }),
    ],
  });
}

/**
 * Subscriptions over one WebSocket, opened when the first one starts and closed when the
 * last one ends. The token travels as connectionParams (the first message), never in the URL.
 */
function socketLink(
  httpUrl: string,
  tokenOf: () => Promise<string | undefined>,
  WebSocketImpl: typeof globalThis.WebSocket | undefined,
): TRPCLink<AppRouter> {
  const client = createWSClient({
    url: httpUrl.replace(/^http/, "ws"),
    connectionParams: async () => {
      const token = await tokenOf();
      return token ? { token } : {};
    },
    lazy: { enabled: true, closeMs: 0 },
    ...(WebSocketImpl ? { WebSocket: WebSocketImpl } : {}),
  });
  return wsLink<AppRouter>({ client });
}

/** The code a failed call carries: the app code (e.g. EMERGENCY_STOP) or the tRPC code. */
export function errorCodeOf(error: unknown): string | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { appCode?: string; code?: string } | undefined;
  return data?.appCode ?? data?.code;
}
