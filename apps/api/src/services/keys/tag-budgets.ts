/**
 * Tag budgets: a spending cap on every request that carries a tag — sent in
 * x-switchboard-tags, or given by its API key — whoever sends it: a team's, an app's or a
 * feature's budget across all its users and keys, enforced by the same spend ledger as a
 * key's (spend "tag:<tag>").
 *
 * Every instance holds all of them (at most TAG_BUDGET_LIMITS.max), so a request's tags are
 * checked without a round trip. A change is pushed to every instance on a coordination
 * channel; each also re-reads them every REFRESH_MS, which catches a push lost while Redis was
 * unreachable and rows edited in the database.
 */
import { TAG_BUDGET_LIMITS, budgetPeriodStart, type TBudgetPeriod, type TTagBudget, type TTagBudgetSetInput } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { followChannel } from "../../infra/channel-follower.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { AppError } from "../errors.ts";
import type { LoggedSpend } from "./logged-spend.ts";
import { tagSubject, type SpendLedger } from "./spend-ledger.ts";

export interface TagBudget {
  tag: string;
  budgetUsd: number;
  budgetPeriod: TBudgetPeriod;
}

const CHANNEL = "keys:tag-budgets";
const REFRESH_MS = 5_000;

export function createTagBudgets(deps: {
  prisma: PrismaClient;
  coordination: Coordination;
  spend: Pick<SpendLedger, "forget">;
  logged: Pick<LoggedSpend, "ofSubjects">;
  log: (msg: string, err?: unknown) => void;
  refreshIntervalMs?: number | undefined;
}) {
  const { prisma, coordination } = deps;
  let budgets = new Map<string, TagBudget>();
  let stopFollowing: (() => Promise<void>) | undefined;

  /** Reads every tag budget; a tag whose period changed has its spend read again. */
  async function reload(): Promise<void> {
    const rows = await prisma.tagBudget.findMany({ take: TAG_BUDGET_LIMITS.max * 2 });
    const next = new Map(rows.map((r) => [r.tag, { tag: r.tag, budgetUsd: r.budgetUsd, budgetPeriod: r.budgetPeriod as TBudgetPeriod }]));
    for (const [tag, before] of budgets) if (next.get(tag)?.budgetPeriod !== before.budgetPeriod) deps.spend.forget(tagSubject(tag));
    budgets = next;
  }

  const reloadQuietly = () => void reload().catch((err: unknown) => deps.log("could not read the tag budgets", err));

  /** Takes a change in here at once, and to the other instances. */
  async function changed(): Promise<void> {
    await reload();
    await coordination.publish(CHANNEL, "changed").catch((err: unknown) => deps.log("could not tell the other instances of a tag budget change (they read it within seconds)", err));
  }

  return {
    /** The budgets of these tags (none for a tag without one); no I/O. */
    of(tags: readonly string[]): TagBudget[] {
      if (budgets.size === 0) return [];
      return tags.flatMap((tag) => budgets.get(tag) ?? []);
    },

    /** Every tag budget with what its requests spent, the costliest budget first. */
    async list(): Promise<TTagBudget[]> {
      const rows = await prisma.tagBudget.findMany({ orderBy: [{ budgetUsd: "desc" }, { tag: "asc" }] });
      const spent = await deps.logged.ofSubjects(rows.map((r) => ({ subject: tagSubject(r.tag), from: budgetPeriodStart(r.budgetPeriod as TBudgetPeriod) })));
      return rows.map((r) => {
        const figures = spent.get(tagSubject(r.tag)) ?? { total: 0, period: 0, requests: 0 };
        return {
          tag: r.tag,
          budgetUsd: r.budgetUsd,
          budgetPeriod: r.budgetPeriod as TBudgetPeriod,
          spendUsd: figures.period,
          totalSpendUsd: figures.total,
          requests: figures.requests,
          updatedAt: r.updatedAt.toISOString(),
        };
      });
    },

    /** Sets (or changes) a tag's budget; in force on every instance within moments. */
    async set(input: Required<TTagBudgetSetInput>): Promise<TagBudget> {
      const data = { budgetUsd: input.budgetUsd, budgetPeriod: input.budgetPeriod };
      await prisma.$transaction(async (tx) => {
        const exists = await tx.tagBudget.findUnique({ where: { tag: input.tag }, select: { tag: true } });
        if (!exists && (await tx.tagBudget.count()) >= TAG_BUDGET_LIMITS.max) {
          throw new AppError("CONFLICT", `There are already ${TAG_BUDGET_LIMITS.max} tag budgets, the most the gateway holds; remove one no longer needed first`);
        }
        await tx.tagBudget.upsert({ where: { tag: input.tag }, create: { tag: input.tag, ...data }, update: data });
      });
      await changed();
      return { tag: input.tag, ...data };
    },

    /** Removes a tag's budget: its requests are no longer capped (their spend stays in the log). */
    async remove(tag: string): Promise<void> {
      const { count } = await prisma.tagBudget.deleteMany({ where: { tag } });
      if (count === 0) throw new AppError("NOT_FOUND", `No budget for tag "${tag}"`);
      await changed();
    },

    async start(): Promise<void> {
      await reload();
      stopFollowing = await followChannel(coordination, {
        channel: CHANNEL,
        onMessage: reloadQuietly,
        onReconnect: reloadQuietly,
        resync: { intervalMs: deps.refreshIntervalMs ?? REFRESH_MS, run: reloadQuietly },
      });
    },
    async close(): Promise<void> {
      await stopFollowing?.();
    },
  };
}

export type TagBudgets = ReturnType<typeof createTagBudgets>;
