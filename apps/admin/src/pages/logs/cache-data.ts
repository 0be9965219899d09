/** The response cache on the Logs page: purging kept answers, and the record of purges (ADMIN). */
import type { TCachePurgesPage } from "@switchboard/schema";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { trpc } from "../../lib/trpc.ts";

const PURGES_KEY = ["cache", "purges"] as const;

/** Purges the caller's kept answers, or everyone's; the record of purges is read again after. */
export function usePurgeCache() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (everyone: boolean) => trpc.cache.purge.mutate(everyone ? { everyone: true } : {}),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: PURGES_KEY }),
  });
}

/** Recorded purges, newest first, a page at a time (ADMIN). */
export function useCachePurges() {
  return useInfiniteQuery({
    queryKey: PURGES_KEY,
    queryFn: ({ pageParam }) => trpc.cache.purges.query({ limit: 20, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: TCachePurgesPage) => last.nextCursor ?? undefined,
  });
}
