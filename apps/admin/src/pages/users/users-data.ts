import { BUDGET_PERIODS, budgetPeriodStart, type TBudgetPeriod, type TUser, type TUserUpdateInput } from "@switchboard/schema";
import { useInfiniteQuery, useMutation, useQueries, useQueryClient, type InfiniteData, type QueryClient } from "@tanstack/react-query";
import { trpc } from "../../lib/trpc.ts";
import { procedureKey, usageSummary } from "../usage-data.ts";

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

/** Puts the server's version of one user into every cached page, without a refetch. */
function patchCachedUser(queryClient: QueryClient, user: TUser): void {
  queryClient.setQueriesData<InfiniteData<UsersPage>>({ queryKey: USERS_KEY }, (data) =>
    data ? { ...data, pages: data.pages.map((page) => ({ ...page, items: page.items.map((u) => (u.id === user.id ? user : u)) })) } : data,
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

/** users.update for a budget; the spend shown next to it is read again, so the two compare fresh. */
export function useUpdateBudget() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: Pick<TUserUpdateInput, "id" | "budgetUsd" | "budgetPeriod">) => trpc.users.update.mutate(input),
    onSuccess: (user) => {
      patchCachedUser(queryClient, user);
      void queryClient.invalidateQueries({ queryKey: procedureKey("usage.summary") });
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

/**
 * What each listed user spent in their budget's current period, from usage.summary grouped
 * by user: one query per period in use (three at most, however many rows), over the same
 * UTC window the gateway enforces. A user's spend is undefined while it loads or if it failed.
 */
export function useBudgetSpend(users: readonly TUser[]): (user: TUser) => number | undefined {
  const periods = BUDGET_PERIODS.filter((period) => users.some((u) => u.budgetPeriod === period));
  const summaries = useQueries({
    queries: periods.map((period) => {
      const from = budgetPeriodStart(period)?.toISOString();
      return usageSummary({ groupBy: "user", ...(from ? { from } : {}) });
    }),
  });
  const byPeriod = new Map<TBudgetPeriod, Map<string, number>>();
  periods.forEach((period, i) => {
    const data = summaries[i]?.data;
    if (data) byPeriod.set(period, new Map(data.groups.map((g) => [g.key, g.costUsd])));
  });
  return (user) => {
    const spent = byPeriod.get(user.budgetPeriod);
    return spent ? (spent.get(user.id) ?? 0) : undefined;
  };
}
