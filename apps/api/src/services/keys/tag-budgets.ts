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
import { BUDGET_PERIODS, TAG_BUDGET_LIMITS, budgetPeriodStart, type TBudgetPeriod, type TTagBudget, type TTagBudgetSetInput } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { followChannel } from "../../infra/channel-follower.ts";
import { boundLockWaits, LOCK_WAIT_MS, transactionBound } from "../../infra/statement-bounds.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { AppError } from "../errors.ts";
import type { LoggedSpend } from "./logged-spend.ts";
import { tagSubject, type SpendLedger } from "./spend-ledger.ts";

export interface TagBudget {
  tag: string;
  budgetUsd: number;
  budgetPeriod: TBudgetPeriod;
  /** Only requests made with an API key carrying the tag may carry it. */
  keysOnly: boolean;
}

const CHANNEL = "keys:tag-budgets";
const REFRESH_MS = 5_000;

/**
 * A row as the gateway can enforce it. Rows are written through set(), which validates them;
 * one edited by hand into something else (a "week" period, a NaN amount) is left out, never
 * enforced as something it does not say. (No CHECK constraint: Prisma's schema engine cannot
 * read one back.)
 */
const isBudget = (r: { budgetUsd: number; budgetPeriod: string }): r is TagBudget & typeof r =>
  Number.isFinite(r.budgetUsd) && r.budgetUsd >= 0 && (BUDGET_PERIODS as readonly string[]).includes(r.budgetPeriod);

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
  /** Reloads started, and the latest whose rows were taken: an older read finishing late is dropped. */
  let started = 0;
  let taken = 0;

  /**
   * Reads every tag budget. A tag whose budget came, went or changed period has its spend
   * read again when next needed: while it had none its spend was not counted here.
   */
  async function reload(): Promise<void> {
    const mine = ++started;
    const rows = await prisma.tagBudget.findMany({ orderBy: { tag: "asc" }, take: TAG_BUDGET_LIMITS.max * 2 });
    if (mine < taken) return;
    taken = mine;
    const next = new Map(rows.flatMap((r) => (isBudget(r) ? [[r.tag, r] as const] : [])));
    for (const tag of new Set([...budgets.keys(), ...next.keys()])) {
      if (budgets.get(tag)?.budgetPeriod !== next.get(tag)?.budgetPeriod) deps.spend.forget(tagSubject(tag));
    }
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
      const rows = (await prisma.tagBudget.findMany({ orderBy: [{ budgetUsd: "desc" }, { tag: "asc" }] })).filter(isBudget);
      const spent = await deps.logged.ofSubjects(rows.map((r) => ({ subject: tagSubject(r.tag), from: budgetPeriodStart(r.budgetPeriod as TBudgetPeriod) })));
      return rows.map((r) => {
        const figures = spent.get(tagSubject(r.tag)) ?? { total: 0, period: 0, requests: 0 };
        return {
          tag: r.tag,
          budgetUsd: r.budgetUsd,
          budgetPeriod: r.budgetPeriod as TBudgetPeriod,
          keysOnly: r.keysOnly,
          spendUsd: figures.period,
          totalSpendUsd: figures.total,
          requests: figures.requests,
          updatedAt: r.updatedAt.toISOString(),
        };
      });
    },

    /** Sets (or changes) a tag's budget; in force on every instance within moments. */
    async set(input: TTagBudgetSetInput & { budgetPeriod: TBudgetPeriod }): Promise<TagBudget> {
      const data = { budgetUsd: input.budgetUsd, budgetPeriod: input.budgetPeriod, ...(input.keysOnly !== undefined ? { keysOnly: input.keysOnly } : {}) };
      const row = await prisma.$transaction(async (tx) => {
        await boundLockWaits(tx);
        // One set at a time across the fleet, so the count below cannot be raced past.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('switchboard:tag-budgets'))`;
        const exists = await tx.tagBudget.findUnique({ where: { tag: input.tag }, select: { tag: true } });
        if (!exists && (await tx.tagBudget.count()) >= TAG_BUDGET_LIMITS.max) {
          throw new AppError("CONFLICT", `There are already ${TAG_BUDGET_LIMITS.max} tag budgets, the most the gateway holds; remove one no longer needed first`);
        }
        return tx.tagBudget.upsert({ where: { tag: input.tag }, create: { tag: input.tag, ...data }, update: data });
      }, { timeout: transactionBound(prisma, LOCK_WAIT_MS) });
      await changed();
      return { tag: row.tag, budgetUsd: row.budgetUsd, budgetPeriod: input.budgetPeriod, keysOnly: row.keysOnly };
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
