import type { TEmergencyChangeResult, TEmergencyFreezeInput, TEmergencyHistoryPage } from "@switchboard/schema";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { offerEmergencyStatus } from "../../lib/emergency-status.ts";
import { trpc } from "../../lib/trpc.ts";

const HISTORY_KEY = ["emergency", "history"] as const;
const PAGE_SIZE = 25;

/** The audit trail, newest first. Re-read whenever the state version moves. */
export function useEmergencyHistory(enabled: boolean, version: number | undefined) {
  return useInfiniteQuery({
    queryKey: [...HISTORY_KEY, { version }],
    queryFn: ({ pageParam }) => trpc.emergency.history.query({ limit: PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: TEmergencyHistoryPage) => last.nextCursor ?? undefined,
    placeholderData: (previous) => previous,
    enabled,
    retry: false,
  });
}

/**
 * `onDone` is a hook-level callback on purpose: a global freeze removes the freeze form as
 * soon as the watch stream reports it, and per-call callbacks of an unmounted form never run.
 */
function useChange<I>(call: (input: I) => Promise<TEmergencyChangeResult>, onDone: (result: TEmergencyChangeResult) => void) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: call,
    onSuccess: (result) => {
      offerEmergencyStatus(result);
      void queryClient.invalidateQueries({ queryKey: HISTORY_KEY });
      onDone(result);
    },
  });
}

export const useFreeze = (onDone: (result: TEmergencyChangeResult) => void) =>
  useChange((input: TEmergencyFreezeInput) => trpc.emergency.freeze.mutate(input), onDone);
export const useUnfreeze = (onDone: (result: TEmergencyChangeResult) => void) =>
  useChange((input: { reason?: string }) => trpc.emergency.unfreeze.mutate(input), onDone);

export type FreezeMutation = ReturnType<typeof useFreeze>;
export type UnfreezeMutation = ReturnType<typeof useUnfreeze>;

/** "Acknowledged by 3 of 3 live instances." — the proof a change reached the fleet. */
export function propagationText(result: TEmergencyChangeResult): string {
  if (result.propagation === "local") {
    return "Redis is unreachable: applied on this instance and in the database; the rest of the fleet gets it when Redis is back.";
  }
  const pending = result.pendingInstances.length > 0 ? ` Not yet: ${result.pendingInstances.join(", ")}.` : "";
  return `Acknowledged by ${result.acknowledgedBy} of ${result.liveInstances} live instance${result.liveInstances === 1 ? "" : "s"}.${pending}`;
}
