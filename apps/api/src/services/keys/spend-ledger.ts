/**
 * Spend of budgeted callers (API keys, users, tags), enforced across instances from local
 * state. A budget belongs to a subject: "key:<id>", "user:<id>" or "tag:<tag>". Each instance
 * holds, per subject, the cluster total it last heard of plus what it spent itself since;
 * every spend is added to a counter in coordination (one atomic float add) and the new
 * total is pushed to every instance.
 *
 * A request's cost is known only once it has run, so admission also counts what is in
 * flight: each admitted request holds a place until it ends and gives back its cost. Many
 * run at once while the spend plus every request in flight, each priced at the costliest
 * request of the last day (anyone's, budgeted or not: a caller cannot lower its own price
 * with cheap calls; after a day without any, the latest known), stays within the budget;
 * nearer the budget, one at a time ("busy" for the others). So an instance overshoots a budget by at most the
 * one request it admitted last, unless a request costs more than any of the day before it.
 * Over a day rather than for good: an outlier stops slowing everyone down.
 *
 * Subjects without a budget cost nothing here: their spend is read from the request log.
 */
import { budgetPeriodStart, type TBudgetPeriod } from "@switchboard/schema";
import { followChannel } from "../../infra/channel-follower.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { BudgetHold } from "../../infra/request-scope.ts";
import { RecentMax } from "./recent-max.ts";

export const SPEND_CHANNEL = "keys:spend";

/** How long a request's cost prices the requests in flight after it: a day, by the hour. */
const COSTLIEST_WINDOW = { slotMs: 3600_000, slots: 24 };
const COSTLIEST_WINDOW_MS = COSTLIEST_WINDOW.slotMs * COSTLIEST_WINDOW.slots;

/** Who a budget belongs to; its spend is counted under this name. */
export type SpendSubject = `key:${string}` | `user:${string}` | `tag:${string}`;
export const keySubject = (keyId: string): SpendSubject => `key:${keyId}`;
export const userSubject = (userId: string): SpendSubject => `user:${userId}`;
export const tagSubject = (tag: string): SpendSubject => `tag:${tag}`;

/** The budget window a time falls in (UTC): "total", "d:2026-12-01" or "m:2026-12". */
export function periodBucket(period: TBudgetPeriod, at = new Date()): string {
  if (period === "total") return "total";
  const iso = at.toISOString();
  return period === "day" ? `d:${iso.slice(0, 10)}` : `m:${iso.slice(0, 7)}`;
}

interface SubjectSpend {
  bucket: string;
  /** Latest cluster-wide total heard of (counter answer or push). */
  cluster: number;
  /**
   * Spend of the period that the request log has and the counter never got (made before the
   * budget was set, or counted by a counter since lost), read once at load; new spend goes
   * to the counter and adds to it.
   */
  logOnly: number;
  /** Spent here and not yet acknowledged by the counter. */
  pending: number;
}

/**
 * A request's place in flight against one budget. Its release books the request's cost and
 * gives the place back once the cost counts, so no admission in between sees neither;
 * `undefined`: the request never ran.
 */
export type SpendHold = BudgetHold;

export type SpendAdmission = { admitted: true; hold: SpendHold } | { admitted: false; reason: "exhausted" | "busy"; spent: number };

/** The costliest request logged in one hour (`hourMs`: the hour's start). */
export interface HourlyCostliest {
  hourMs: number;
  costUsd: number;
}

export interface SpendLedgerDeps {
  coordination: Coordination;
  /** Spend already recorded in the request log since `from` (fallback when the counter was lost). */
  loggedSpend: (subject: SpendSubject, from: Date | undefined) => Promise<number>;
  /** The costliest request of each hour in the request log since `from`, read once at start. */
  costliestLogged?: (from: Date) => Promise<HourlyCostliest[]>;
  log: (msg: string, err?: unknown) => void;
}

const counterKey = (subject: SpendSubject) => `spend:${subject}`;

export function createSpendLedger(deps: SpendLedgerDeps) {
  const { coordination } = deps;
  const spends = new Map<string, SubjectSpend>();
  const loading = new Map<string, Promise<SubjectSpend>>();
  /**
   * Requests admitted here and not ended, per subject. Kept apart from the spend figures,
   * which are dropped and read again (a reconnect, a new period): these places stay taken
   * until their requests end, whatever is read meanwhile.
   */
  const inFlight = new Map<SpendSubject, number>();
  let stopFollowing: (() => Promise<void>) | undefined;
  /** The costliest request of the last day (the request log's at start, then every one served here). */
  const costliest = new RecentMax(COSTLIEST_WINDOW.slotMs, COSTLIEST_WINDOW.slots);

  async function load(subject: SpendSubject, period: TBudgetPeriod): Promise<SubjectSpend> {
    const bucket = periodBucket(period);
    const known = spends.get(subject);
    if (known && known.bucket === bucket) return known;
    const id = `${subject}/${bucket}`;
    const pending = loading.get(id);
    if (pending) return pending;
    const promise = (async () => {
      const [counter, logged] = await Promise.all([
        coordination.hgetall(counterKey(subject)).then((h) => Number(h[bucket] ?? 0)),
        deps.loggedSpend(subject, budgetPeriodStart(period)),
      ]);
      const entry: SubjectSpend = { bucket, cluster: counter, logOnly: Math.max(0, logged - counter), pending: 0 };
      const now = spends.get(subject);
      if (now && now.bucket === bucket) return now;
      spends.set(subject, entry);
      return entry;
    })().finally(() => loading.delete(id));
    loading.set(id, promise);
    return promise;
  }

  const spentOf = (s: SubjectSpend) => s.cluster + s.logOnly + s.pending;

  /**
   * Counts `costUsd` here at once (then `counted()`, in the same turn), then adds it to the
   * shared counter and tells the others.
   */
  async function book(subject: SpendSubject, s: SubjectSpend, costUsd: number, counted: () => void): Promise<void> {
    s.pending += costUsd;
    counted();
    try {
      const total = await coordination.hincrByFloat(counterKey(subject), s.bucket, costUsd);
      s.pending -= costUsd;
      s.cluster = Math.max(s.cluster, total);
      await coordination.publish(SPEND_CHANNEL, JSON.stringify({ subject, bucket: s.bucket, total }));
    } catch (err) {
      // Coordination down: the spend stays pending here, so this instance still counts it.
      deps.log("could not add spend to the shared counter", err);
    }
  }

  /**
   * Books a request's cost (after the response; never on the request's path) into the
   * subject's figures as they are now, whatever period it was admitted under (a request
   * running when the period changed ends in the new one). `counted()` runs once the cost
   * counts here: its place in flight may be given back then, and no admission sees neither.
   */
  async function add(subject: SpendSubject, period: TBudgetPeriod, costUsd: number, counted: () => void): Promise<void> {
    if (costUsd <= 0) return counted();
    // In the same turn when the figures are at hand (the usual case: the request loaded them to be admitted).
    const s = spends.get(subject) ?? (await load(subject, period));
    await book(subject, s, costUsd, counted);
  }

  return {
    /**
     * Admits one request against a budget, or says why not: the period's spend reached it
     * ("exhausted"), or requests in flight here could reach it ("busy": retry once they end).
     */
    async admit(subject: SpendSubject, period: TBudgetPeriod, budgetUsd: number): Promise<SpendAdmission> {
      const s = await load(subject, period);
      const spent = spentOf(s);
      if (spent >= budgetUsd) return { admitted: false, reason: "exhausted", spent };
      const running = inFlight.get(subject) ?? 0;
      if (running > 0 && spent + (running + 1) * costliest.value() > budgetUsd) return { admitted: false, reason: "busy", spent };
      inFlight.set(subject, running + 1);
      let released = false;
      const hold: SpendHold = {
        subject,
        release(costUsd) {
          if (released) return;
          released = true;
          let freed = false;
          const free = () => {
            if (freed) return;
            freed = true;
            const left = (inFlight.get(subject) ?? 1) - 1;
            if (left > 0) inFlight.set(subject, left);
            else inFlight.delete(subject);
          };
          if (costUsd === undefined) return free();
          add(subject, period, costUsd, free).catch((err: unknown) => {
            free();
            deps.log("spend booking failed", err);
          });
        },
      };
      return { admitted: true, hold };
    },

    /** A request's cost, budgeted or not: what requests in flight are priced at. */
    notePrice(costUsd: number): void {
      costliest.note(costUsd);
    },

    /** Drops what is known of a subject's spend, read again when next needed (its budget period changed). */
    forget(subject: SpendSubject): void {
      spends.delete(subject);
    },

    async start(): Promise<void> {
      if (deps.costliestLogged) {
        const hours = await deps.costliestLogged(new Date(Date.now() - COSTLIEST_WINDOW_MS)).catch((err: unknown) => {
          deps.log("could not read the costliest requests from the request log", err);
          return [];
        });
        // Each at its own hour, so it stops counting a day after it was made, not after start.
        for (const { hourMs, costUsd } of hours) costliest.note(costUsd, hourMs);
      }
      stopFollowing = await followChannel(coordination, {
        channel: SPEND_CHANNEL,
        onMessage(message) {
          try {
            const m = JSON.parse(message) as { subject: string; bucket: string; total: number };
            const s = spends.get(m.subject);
            if (s && s.bucket === m.bucket) s.cluster = Math.max(s.cluster, m.total);
          } catch {
            // Not ours to interpret.
          }
        },
        // A push may have been missed while disconnected: re-read on next use (the places
        // in flight are kept apart and stay counted).
        onReconnect: () => spends.clear(),
      });
    },
    async close(): Promise<void> {
      await stopFollowing?.();
    },
  };
}

export type SpendLedger = ReturnType<typeof createSpendLedger>;
