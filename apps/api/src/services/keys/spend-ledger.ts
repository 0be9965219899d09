/**
 * Spend of budgeted callers (API keys and users), enforced across instances from local
 * state. A budget belongs to a subject: "key:<id>" or "user:<id>". Each instance
 * holds, per subject, the cluster total it last heard of plus what it spent itself since;
 * every spend is added to a counter in coordination (one atomic float add) and the new
 * total is pushed to every instance. A request is admitted while the local view is under
 * budget, so an instance can overshoot by the requests it had in flight when the budget
 * ran out — one request at a time per caller in practice.
 *
 * Subjects without a budget cost nothing here: their spend is read from the request log.
 */
import { budgetPeriodStart, type TBudgetPeriod } from "@switchboard/schema";
import type { Coordination, Unsubscribe } from "../../infra/coordination/port.ts";

export const SPEND_CHANNEL = "keys:spend";

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
  /** Spent here and not yet acknowledged by the counter. */
  pending: number;
}

export interface SpendLedgerDeps {
  coordination: Coordination;
  /** Spend already recorded in the request log since `from` (fallback when the counter was lost). */
  loggedSpend: (subject: SpendSubject, from: Date | undefined) => Promise<number>;
  log: (msg: string, err?: unknown) => void;
}

const counterKey = (subject: SpendSubject) => `spend:${subject}`;

export function createSpendLedger(deps: SpendLedgerDeps) {
  const { coordination } = deps;
  const spends = new Map<string, SubjectSpend>();
  const loading = new Map<string, Promise<SubjectSpend>>();
  let unsubscribe: Unsubscribe | undefined;

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
      const entry: SubjectSpend = { bucket, cluster: Math.max(counter, logged), pending: 0 };
      const now = spends.get(subject);
      if (now && now.bucket === bucket) return now;
      spends.set(subject, entry);
      return entry;
    })().finally(() => loading.delete(id));
    loading.set(id, promise);
    return promise;
  }

  return {
    /** Spend of the subject's current period as this instance knows it (loads on first use). */
    async spent(subject: SpendSubject, period: TBudgetPeriod): Promise<number> {
      const s = await load(subject, period);
      return s.cluster + s.pending;
    },

    /** Books a request's cost (after the response; never on the request's path). */
    async add(subject: SpendSubject, period: TBudgetPeriod, costUsd: number): Promise<void> {
      if (costUsd <= 0) return;
      const s = await load(subject, period);
      s.pending += costUsd;
      try {
        const total = await coordination.hincrByFloat(counterKey(subject), s.bucket, costUsd);
        s.pending -= costUsd;
        s.cluster = Math.max(s.cluster, total);
        await coordination.publish(SPEND_CHANNEL, JSON.stringify({ subject, bucket: s.bucket, total }));
      } catch (err) {
        // Coordination down: the spend stays pending here, so this instance still counts it.
        deps.log("could not add spend to the shared counter", err);
      }
    },

    /** Drops what is known of a subject (its budget period changed). */
    forget(subject: SpendSubject): void {
      spends.delete(subject);
    },

    async start(): Promise<void> {
      unsubscribe = await coordination.subscribe(SPEND_CHANNEL, (message) => {
        try {
          const m = JSON.parse(message) as { subject: string; bucket: string; total: number };
          const s = spends.get(m.subject);
          if (s && s.bucket === m.bucket) s.cluster = Math.max(s.cluster, m.total);
        } catch {
          // Not ours to interpret.
        }
      });
      // A push may have been missed while disconnected: re-read on next use.
      coordination.onReconnect(() => spends.clear());
    },
    async close(): Promise<void> {
      await unsubscribe?.().catch(() => {});
    },
  };
}

export type SpendLedger = ReturnType<typeof createSpendLedger>;
