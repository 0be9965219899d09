/**
 * A typed client for other TypeScript services:
 *
 *   const sb = createSwitchboardClient({ url: "http://127.0.0.1:3000", token });
 *   const me = await sb.auth.me.query();
 *
 * Types come from the API's router through a type-only import, so nothing of the server is
 * bundled. Wire format is plain JSON (no transformer), same as curl would see.
 */
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
  type TRPCClient,
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
        // Browsers' EventSource cannot send headers; this one can, so the token stays out of URLs.
        true: httpSubscriptionLink({
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
        }),
        // The server refuses auth.* inside a batch of several calls (sign-in limits count
        // requests), so those go alone; everything else is batched.
        false: splitLink({
          condition: (op) => op.path.startsWith("auth."),
          true: httpLink({ url, headers, methodOverride: "POST", ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
          // POST for queries too (the server allows it): inputs such as prompts stay out of URLs.
          false: httpBatchLink({ url, headers, methodOverride: "POST", ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
        }),
      }),
    ],
  });
}

/** The code a failed call carries: the app code (e.g. EMERGENCY_STOP) or the tRPC code. */
export function errorCodeOf(error: unknown): string | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { appCode?: string; code?: string } | undefined;
  return data?.appCode ?? data?.code;
}
