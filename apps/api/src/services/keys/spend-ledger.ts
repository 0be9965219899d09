/**
 * Spend of budgeted callers (API keys and users), enforced across instances from local
 * state. A budget belongs to a subject: "key:<id>" or "user:<id>". Each instance
 * holds, per subject, the cluster total it last heard of plus what it spent itself since;
 * every spend is added to a counter in coordination (one atomic float add) and the new
 * total is pushed to every instance.
 *
 * A request's cost is known only once it has run, so admission also counts what is in
 * flight: each admitted request holds a place until it ends and gives back its cost. Many
 * run at once while the spend plus every request in flight, each priced at the subject's
 * own costliest request of the last day (any caller's, for a subject with none), stays
 * within the budget; nearer the budget, one at a time ("busy" for the others). So an
 * instance overshoots a budget by at most the one request it admitted last, unless a request
 * costs more than that price. Priced per subject and over a day, one caller's outlier
 * neither slows the others down nor its own for good.
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
const recentMax = () => new RecentMax(COSTLIEST_WINDOW.slotMs, COSTLIEST_WINDOW.slots);

/** Who a budget belongs to; its spend is counted under this name. */
export type SpendSubject = `key:${string}` | `user:${string}`;
export const keySubject = (keyId: string): SpendSubject => `key:${keyId}`;
export const userSubject = (userId: string): SpendSubject => `user:${userId}`;

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
  /** Spent here and being added to the counter. */
  pending: number;
  /**
   * Spent here that the counter could not take (coordination down); counted here until the
   * next read of the counter and the log, which has it by then (its row is written a moment
   * after the request).
   */
  unbooked: number;
  /** Requests admitted here that have not ended yet. */
  inFlight: number;
  /** Read again before the next admission (a push may have been missed, or the budget changed). */
  stale: boolean;
  /** The subject's costliest request of the last day (the request log's at load, then this instance's). */
  costliest: RecentMax;
}

/**
 * A request's place in flight against one budget. Its release books the request's cost in
 * the same turn, so no admission in between sees neither; `undefined`: the request never ran.
 */
export type SpendHold = BudgetHold;

export type SpendAdmission = { admitted: true; hold: SpendHold } | { admitted: false; reason: "exhausted" | "busy"; spent: number };

export interface SpendLedgerDeps {
  coordination: Coordination;
  /**
   * Spend already recorded in the request log since `from` (fallback when the counter was
   * lost), and the subject's costliest request logged since `recentFrom`.
   */
  loggedSpend: (subject: SpendSubject, from: Date | undefined, recentFrom: Date) => Promise<{ spent: number; costliest: number }>;
  /** The largest cost of any one request in the request log since `from`, read once at start. */
  costliestLogged?: (from: Date) => Promise<number>;
  log: (msg: string, err?: unknown) => void;
}

const counterKey = (subject: SpendSubject) => `spend:${subject}`;

export function createSpendLedger(deps: SpendLedgerDeps) {
  const { coordination } = deps;
  const spends = new Map<string, SubjectSpend>();
  const loading = new Map<string, Promise<SubjectSpend>>();
  let stopFollowing: (() => Promise<void>) | undefined;
  /** Any caller's costliest request of the last day: the price in flight of a subject with none of its own. */
  const anyCostliest = recentMax();

  async function load(subject: SpendSubject, period: TBudgetPeriod): Promise<SubjectSpend> {
    const bucket = periodBucket(period);
    const known = spends.get(subject);
    if (known && known.bucket === bucket && !known.stale) return known;
    const id = `${subject}/${bucket}`;
    const pending = loading.get(id);
    if (pending) return pending;
    const promise = (async () => {
      const [counter, logged] = await Promise.all([
        coordination.hgetall(counterKey(subject)).then((h) => Number(h[bucket] ?? 0)),
        deps.loggedSpend(subject, budgetPeriodStart(period), new Date(Date.now() - COSTLIEST_WINDOW_MS)),
      ]);
      const logOnly = Math.max(0, logged.spent - counter);
      const now = spends.get(subject);
      if (now && now.bucket === bucket) {
        if (!now.stale) return now;
        // Refreshed in place: the requests in flight hold this entry and give their places back to it.
        Object.assign(now, { cluster: counter, logOnly, unbooked: 0, stale: false });
        now.costliest.note(logged.costliest);
        return now;
      }
      const costliest = recentMax();
      // Dated now rather than when it was made: it may count up to an hour longer than a day.
      costliest.note(logged.costliest);
      const entry: SubjectSpend = { bucket, cluster: counter, logOnly, pending: 0, unbooked: 0, inFlight: 0, stale: false, costliest };
      spends.set(subject, entry);
      return entry;
    })().finally(() => loading.delete(id));
    loading.set(id, promise);
    return promise;
  }

  const spentOf = (s: SubjectSpend) => s.cluster + s.logOnly + s.pending + s.unbooked;

  /** What each of a subject's requests in flight may cost, for admission. */
  const priceInFlight = (s: SubjectSpend) => s.costliest.value() || anyCostliest.value();

  /** Counts `costUsd` here at once, then adds it to the shared counter and tells the others. */
  async function book(subject: SpendSubject, s: SubjectSpend, costUsd: number): Promise<void> {
    s.pending += costUsd;
    let total: number;
    try {
      total = await coordination.hincrByFloat(counterKey(subject), s.bucket, costUsd);
    } catch (err) {
      // Coordination down: this instance still counts the spend.
      s.unbooked += costUsd;
      deps.log("could not add spend to the shared counter", err);
      return;
    } finally {
      s.pending -= costUsd;
    }
    s.cluster = Math.max(s.cluster, total);
    await coordination.publish(SPEND_CHANNEL, JSON.stringify({ subject, bucket: s.bucket, total })).catch((err: unknown) => deps.log("could not tell the other instances of a spend", err));
  }

  /** Books a request's cost (after the response; never on the request's path). */
  async function add(subject: SpendSubject, period: TBudgetPeriod, costUsd: number): Promise<void> {
    if (costUsd <= 0) return;
    const known = spends.get(subject);
    // Booked in the same turn when the period's entry is at hand (the usual case: the
    // request loaded it to be admitted), so a release never leaves the cost uncounted.
    const s = known && known.bucket === periodBucket(period) ? known : await load(subject, period);
    await book(subject, s, costUsd);
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
      if (s.inFlight > 0 && spent + (s.inFlight + 1) * priceInFlight(s) > budgetUsd) return { admitted: false, reason: "busy", spent };
      s.inFlight++;
      let released = false;
      const hold: SpendHold = {
        subject,
        release(costUsd) {
          if (released) return;
          released = true;
          s.inFlight--;
          if (costUsd === undefined) return;
          s.costliest.note(costUsd);
          anyCostliest.note(costUsd);
          add(subject, period, costUsd).catch((err: unknown) => deps.log("spend booking failed", err));
        },
      };
      return { admitted: true, hold };
    },


    /** Reads a subject's spend again before its next admission (its budget period changed). */
    forget(subject: SpendSubject): void {
      const s = spends.get(subject);
      if (s) s.stale = true;
    },

    async start(): Promise<void> {
      if (deps.costliestLogged) {
        const logged = await deps.costliestLogged(new Date(Date.now() - COSTLIEST_WINDOW_MS)).catch((err: unknown) => {
          deps.log("could not read the costliest request from the request log", err);
          return 0;
        });
        anyCostliest.note(logged);
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
        // A push may have been missed while disconnected: re-read on next use.
        onReconnect: () => {
          for (const s of spends.values()) s.stale = true;
        },
      });
    },
    async close(): Promise<void> {
      await stopFollowing?.();
    },
  };
}

export type SpendLedger = ReturnType<typeof createSpendLedger>;
