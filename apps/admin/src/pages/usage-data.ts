/**
 * Queries of the API keys, Logs and Spend pages. Every query's key is derived from the
 * procedure path and its input in one place (`procedureOptions`), the way tRPC's
 * `trpc.x.queryOptions()` does it, so no page writes a query key by hand and invalidating a
 * procedure reaches every input of it.
 */
import type { TKeyCreateInput, TKeysListInput, TKeyUpdateInput, TLogsListInput, TTagBudgetSetInput, TUsageSummaryInput } from "@switchboard/schema";
import { queryOptions, useMutation, useQueryClient } from "@tanstack/react-query";
import { trpc } from "../lib/trpc.ts";

type Path = "keys.list" | "logs.list" | "logs.get" | "usage.summary" | "tagBudgets.list";

function procedureOptions<I, O>(path: Path, input: I, fn: (input: I) => Promise<O>) {
  return queryOptions({ queryKey: [path.split("."), { input }] as const, queryFn: () => fn(input) });
}

/** The key prefix that matches every input of a procedure. */
const procedureKey = (path: Path) => [path.split(".")];

export const keysList = (input: TKeysListInput) => procedureOptions("keys.list", input, (i) => trpc.keys.list.query(i));
export const logsList = (input: TLogsListInput) => procedureOptions("logs.list", input, (i) => trpc.logs.list.query(i));
export const logsGet = (id: string) => procedureOptions("logs.get", { id }, (i) => trpc.logs.get.query(i));
export const usageSummary = (input: TUsageSummaryInput) => procedureOptions("usage.summary", input, (i) => trpc.usage.summary.query(i));
export const tagBudgetsList = () => procedureOptions("tagBudgets.list", undefined, () => trpc.tagBudgets.list.query());

/** A mutation after which every query of `path` is read again (the list it changed). */
function useMutationRefreshing<I, O>(path: Path, mutationFn: (input: I) => Promise<O>) {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn, onSuccess: () => queryClient.invalidateQueries({ queryKey: procedureKey(path) }) });
}

export const useSetTagBudget = () => useMutationRefreshing("tagBudgets.list", (input: TTagBudgetSetInput) => trpc.tagBudgets.set.mutate(input));
export const useRemoveTagBudget = () => useMutationRefreshing("tagBudgets.list", (tag: string) => trpc.tagBudgets.remove.mutate({ tag }));
export const useCreateKey = () => useMutationRefreshing("keys.list", (input: TKeyCreateInput) => trpc.keys.create.mutate(input));
export const useUpdateKey = () => useMutationRefreshing("keys.list", (input: TKeyUpdateInput) => trpc.keys.update.mutate(input));
export const useRevokeKey = () => useMutationRefreshing("keys.list", (id: string) => trpc.keys.revoke.mutate({ id }));

/** The last `days` UTC days, oldest first, as YYYY-MM-DD. */
export function lastDays(days: number, now = Date.now()): string[] {
  return Array.from({ length: days }, (_, i) => new Date(now - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}

/** "1 hit", "1,204 hits". */
export const counted = (n: number, noun: string) => `${n.toLocaleString()} ${noun}${n === 1 ? "" : "s"}`;
export const usd = (n: number) => (n > 0 && n < 0.01 ? `$${n.toFixed(5)}` : `$${n.toFixed(2)}`);
