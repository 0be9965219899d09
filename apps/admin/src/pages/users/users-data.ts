import type { TUser, TUserUpdateInput } from "@switchboard/schema";
import { useInfiniteQuery, useMutation, useQueryClient, type InfiniteData, type QueryClient } from "@tanstack/react-query";
import { trpc } from "../../lib/trpc.ts";

export interface UsersPage {
  items: TUser[];
  nextCursor: string | null;
}

const USERS_KEY = ["users", "list"] as const;
const PAGE_SIZE = 50;

export function useUsersList(search: string) {
  return useInfiniteQuery({
    queryKey: [...USERS_KEY, { search }],
    queryFn: ({ pageParam }) =>
      trpc.users.list.query({ limit: PAGE_SIZE, ...(search ? { search } : {}), ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: UsersPage) => last.nextCursor ?? undefined,
    placeholderData: (previous) => previous,
  });
}

/**
 * Puts the server's version of one user into every cached page, without a refetch. An
 * update's answer carries no spend (only users.list reads it): the listed one stays while the
 * budget period does, and shows as loading once the period changed (until the list is read again).
 */
function patchCachedUser(queryClient: QueryClient, user: TUser): void {
  const keepsSpend = (u: TUser) => u.spendUsd !== undefined && u.budgetPeriod === user.budgetPeriod;
  const patch = (u: TUser): TUser => (u.id === user.id ? { ...user, ...(keepsSpend(u) ? { spendUsd: u.spendUsd } : {}) } : u);
  queryClient.setQueriesData<InfiniteData<UsersPage>>({ queryKey: USERS_KEY }, (data) =>
    data ? { ...data, pages: data.pages.map((page) => ({ ...page, items: page.items.map(patch) })) } : data,
  );
}

export function useCreateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { email: string; password: string; role: TUser["role"] }) => trpc.users.create.mutate(input),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: USERS_KEY }),
  });
}

export function useUpdateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: TUserUpdateInput) => trpc.users.update.mutate(input),
    onSuccess: (user) => patchCachedUser(queryClient, user),
  });
}

/** users.update for a budget; the list is read again, so the spend shown is the new period's. */
export function useUpdateBudget() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: Pick<TUserUpdateInput, "id" | "budgetUsd" | "budgetPeriod">) => trpc.users.update.mutate(input),
    onSuccess: (user) => {
      patchCachedUser(queryClient, user);
      void queryClient.invalidateQueries({ queryKey: USERS_KEY });
    },
  });
}

export function useDeleteUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { id: string }) => trpc.users.delete.mutate(input),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: USERS_KEY }),
  });
}
