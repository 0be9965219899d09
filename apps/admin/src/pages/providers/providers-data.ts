import type { TConfigHistoryPage, TConfigImportInput, TModelUpsertInput, TProviderCreateInput, TProviderUpdateInput } from "@switchboard/schema";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { trpc } from "../../lib/trpc.ts";

const PROVIDERS_KEY = ["providers", "list"] as const;
const MODELS_KEY = ["models", "list"] as const;
const HISTORY_KEY = ["config", "history"] as const;

/** Health and circuit states change in the background: refetch every few seconds. */
export function useProviders() {
  return useQuery({ queryKey: PROVIDERS_KEY, queryFn: () => trpc.providers.list.query({ limit: 100 }), refetchInterval: 5_000 });
}

export function useModels() {
  return useQuery({ queryKey: MODELS_KEY, queryFn: () => trpc.models.list.query({ limit: 100 }) });
}

function useInvalidateConfig() {
  const queryClient = useQueryClient();
  return () => Promise.all([PROVIDERS_KEY, MODELS_KEY, HISTORY_KEY].map((queryKey) => queryClient.invalidateQueries({ queryKey })));
}

export function useCreateProvider() {
  const invalidate = useInvalidateConfig();
  return useMutation({ mutationFn: (input: TProviderCreateInput) => trpc.providers.create.mutate(input), onSuccess: invalidate });
}

export function useUpdateProvider() {
  const invalidate = useInvalidateConfig();
  return useMutation({ mutationFn: (input: TProviderUpdateInput) => trpc.providers.update.mutate(input), onSuccess: invalidate });
}

export function useDeleteProvider() {
  const invalidate = useInvalidateConfig();
  return useMutation({ mutationFn: (id: string) => trpc.providers.delete.mutate({ id }), onSuccess: invalidate });
}

export function useTestProvider() {
  return useMutation({ mutationFn: (id: string) => trpc.providers.test.mutate({ id }) });
}

export function useUpsertModel() {
  const invalidate = useInvalidateConfig();
  return useMutation({ mutationFn: (input: TModelUpsertInput) => trpc.models.upsert.mutate(input), onSuccess: invalidate });
}

export function useDeleteModel() {
  const invalidate = useInvalidateConfig();
  return useMutation({ mutationFn: (name: string) => trpc.models.delete.mutate({ name }), onSuccess: invalidate });
}

/** The configuration as a document (no secrets), read when asked for rather than kept fresh. */
export function exportConfig() {
  return trpc.config.export.query();
}

/** Applies a document (or previews it, dryRun); what it changed shows in both lists at once. */
export function useImportConfig() {
  const invalidate = useInvalidateConfig();
  return useMutation({ mutationFn: (input: TConfigImportInput) => trpc.config.import.mutate(input), onSuccess: (result) => (result.dryRun ? undefined : invalidate()) });
}

/** The audit of configuration changes, newest first, a page at a time. */
export function useConfigHistory() {
  return useInfiniteQuery({
    queryKey: HISTORY_KEY,
    queryFn: ({ pageParam }) => trpc.config.history.query({ limit: 20, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: TConfigHistoryPage) => last.nextCursor ?? undefined,
  });
}
