import type { AppRouter } from "@switchboard/api";
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
  type TRPCLink,
} from "@trpc/client";
import { observable, type Unsubscribable } from "@trpc/server/observable";
import { TRPC_LIMITS } from "@switchboard/schema";

/**
 * The typed API client. Same origin, no transformer (plain JSON), and no tokens in script:
 * the server keeps the session in httpOnly cookies (`sb_access`, `sb_refresh`) that fetch
 * and EventSource send by themselves.
 */
const TRPC_URL = "/trpc";

/** Procedures that manage the session themselves and must never trigger a refresh. */
const SESSION_PROCEDURES = new Set(["auth.login", "auth.refresh", "auth.logout"]);

export type RenewOutcome = "renewed" | "expired" | "unavailable";

function transportLinks(): TRPCLink<AppRouter>[] {
  return [
    splitLink({
      condition: (op) => op.type === "subscription",
      // SSE: EventSource sends same-origin cookies, so streams are authenticated too.
      true: httpSubscriptionLink({ url: TRPC_URL }),
      // Alone: auth.* (the server refuses it inside a batch of several calls) and config.import
      // (a whole document: its 16 MB limit is on its own route, a batch keeps 1 MB).
      false: splitLink({
        condition: (op) => op.path.startsWith("auth.") || op.path === "config.import",
        true: httpLink({ url: TRPC_URL, methodOverride: "POST" }),
        // POST for queries too (the server allows it): inputs such as prompts stay out of URLs.
        false: httpBatchLink({ url: TRPC_URL, methodOverride: "POST", maxItems: TRPC_LIMITS.maxBatchSize }),
      }),
    }),
  ];
}

/** A client without the auth layer, used for the refresh call itself (no recursion). */
const sessionClient = createTRPCClient<AppRouter>({ links: transportLinks() });

let sessionExpiredHandler: () => void = () => {};
/** Called when the session cannot be renewed; the app sends the user to the login page. */
export function onSessionExpired(handler: () => void): void {
  sessionExpiredHandler = handler;
}

/**
 * Bumped whenever the cookies change (sign-in, refresh). An operation that started before
 * the latest change and then failed with 401 just retries: someone else already renewed.
 */
let sessionGeneration = 0;
let pendingRenewal: Promise<RenewOutcome> | null = null;

export function markSessionStarted(): void {
  sessionGeneration += 1;
}

/**
 * Tabs share the cookies, so two tabs refreshing at once would present the same refresh
 * token twice, which the server reads as token theft and answers by revoking the session.
 * A Web Lock (secure contexts: HTTPS or localhost) makes tabs take turns; the second tab's
 * request then carries the cookie the first one just received.
 */
function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? locks.request("switchboard:auth-refresh", fn) : fn();
}

/**
 * Single-flight refresh: refresh tokens rotate and the server treats a reused one as theft,
 * so concurrent 401s must share one `auth.refresh` call.
 */
export function renewSession(seenGeneration: number = sessionGeneration): Promise<RenewOutcome> {
  if (seenGeneration !== sessionGeneration) return Promise.resolve("renewed");
  pendingRenewal ??= withRefreshLock(() => sessionClient.auth.refresh.mutate())
    .then(
      (): RenewOutcome => {
        sessionGeneration += 1;
        return "renewed";
      },
      (error: unknown): RenewOutcome => {
        // A 4xx answer means the refresh token is gone; anything else (offline, 5xx) is not
        // a reason to throw the user out.
        const status = error instanceof TRPCClientError ? (error.data as { httpStatus?: number } | undefined)?.httpStatus : undefined;
        return status !== undefined && status >= 400 && status < 500 ? "expired" : "unavailable";
      },
    )
    .finally(() => {
      pendingRenewal = null;
    });
  return pendingRenewal;
}

export function isUnauthorized(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return false;
  const data = error.data as { code?: string; httpStatus?: number } | undefined;
  return data?.code === "UNAUTHORIZED" || data?.httpStatus === 401;
}

/**
 * Queries and mutations that fail with UNAUTHORIZED renew the session once and retry.
 * If the session cannot be renewed the original error is passed on and the app is told.
 */
const authLink: TRPCLink<AppRouter> =
  () =>
  ({ op, next }) =>
    observable((observer) => {
      const generation = sessionGeneration;
      let subscription: Unsubscribable | undefined;
      let closed = false;

      const run = (isRetry: boolean) => {
        subscription = next(op).subscribe({
          next: (value) => observer.next(value),
          complete: () => observer.complete(),
          error: (error) => {
            const canRenew = !isRetry && op.type !== "subscription" && !SESSION_PROCEDURES.has(op.path) && isUnauthorized(error);
            if (!canRenew) {
              observer.error(error);
              return;
            }
            void renewSession(generation).then((outcome) => {
              if (closed) return;
              if (outcome === "renewed") {
                run(true);
                return;
              }
              if (outcome === "expired") sessionExpiredHandler();
              observer.error(error);
            });
          },
        });
      };

      run(false);
      return () => {
        closed = true;
        subscription?.unsubscribe();
      };
    });

export const trpc = createTRPCClient<AppRouter>({ links: [authLink, ...transportLinks()] });
