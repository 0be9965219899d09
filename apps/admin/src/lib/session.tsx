import type { TUser } from "@switchboard/schema";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from "react";
import { navigate } from "./router.tsx";
import { isUnauthorized, markSessionStarted, onSessionExpired, trpc } from "./trpc.ts";

export const ME_QUERY_KEY = ["auth", "me"] as const;

interface SessionValue {
  /** undefined while the first `auth.me` is in flight; null when signed out. */
  user: TUser | null | undefined;
  /** Set when the API could not be asked at all (not for 401). */
  error: unknown;
  retry(): void;
  signIn(email: string, password: string): Promise<TUser>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const me = useQuery({
    queryKey: ME_QUERY_KEY,
    // The auth link has already tried a refresh when this sees a 401: the visitor is signed out.
    queryFn: async (): Promise<TUser | null> => {
      try {
        return await trpc.auth.me.query();
      } catch (error) {
        if (isUnauthorized(error)) return null;
        throw error;
      }
    },
    staleTime: 5 * 60_000,
    retry: false,
  });

  const { refetch } = me;

  /** Forgets everything user-specific and shows the login page (remembering where we were). */
  const endSession = useCallback(
    (opts: { rememberPage: boolean }) => {
      queryClient.removeQueries({ predicate: (q) => q.queryKey[0] !== ME_QUERY_KEY[0] });
      queryClient.setQueryData(ME_QUERY_KEY, null);
      const here = window.location.pathname + window.location.search;
      if (window.location.pathname === "/login") return;
      navigate(opts.rememberPage && here !== "/" ? `/login?next=${encodeURIComponent(here)}` : "/login", { replace: true });
    },
    [queryClient],
  );

  useEffect(() => onSessionExpired(() => endSession({ rememberPage: true })), [endSession]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const result = await trpc.auth.login.mutate({ email, password });
      markSessionStarted();
      queryClient.setQueryData(ME_QUERY_KEY, result.user);
      return result.user;
    },
    [queryClient],
  );

  const signOut = useCallback(async () => {
    try {
      await trpc.auth.logout.mutate();
    } finally {
      // Even if the call failed, leave the UI signed out.
      endSession({ rememberPage: false });
    }
  }, [endSession]);

  const value = useMemo<SessionValue>(
    () => ({
      user: me.data,
      error: me.error,
      retry: () => void refetch(),
      signIn,
      signOut,
    }),
    [me.data, me.error, refetch, signIn, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession must be used inside <SessionProvider>");
  return value;
}

/** The signed-in user; only for components rendered inside the signed-in layout. */
export function useCurrentUser(): TUser {
  const { user } = useSession();
  if (!user) throw new Error("useCurrentUser needs a signed-in user");
  return user;
}
