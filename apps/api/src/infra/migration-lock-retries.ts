/**
 * How a migration that stepped aside from a lock wait (migration-lock-bound.ts) is tried
 * again: after a pause that starts at the per-attempt bound and doubles up to eight times it,
 * shortened by a random part so migrators on several instances do not retry in step, until
 * the total bound would be passed. Each pause lets the queries that queued behind the
 * migration run; each attempt queues afresh, and succeeds once the blocking session is gone.
 */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

export interface MigrationLockBound {
  /** How long one attempt may wait for a lock (lock_timeout). */
  lockTimeoutMs: number;
  /** How long the attempts and the pauses between them may take in all. */
  totalMs: number;
}

/**
 * 2 s per attempt: requests queued behind a waiting migration are held at most that long,
 * well inside their own 4 s lock bound (statement-bounds.ts), so they are delayed, not refused.
 * 90 s in all: under the Deployment's 2-minute startup probe, so a pod gives up (and leaves
 * the migration to be tried again cleanly) before the probe would kill it mid-wait.
 */
export const MIGRATION_LOCK_BOUND: MigrationLockBound = { lockTimeoutMs: 2_000, totalMs: 90_000 };

/** What one attempt did: the migrations it applied, and the one that gave up on a lock wait. */
export interface MigrationAttempt {
  applied: string[];
  lockTimeout?: { migration: string; waitingFor?: string };
}

/** The pause after attempt `n` (from 1) failed, before the random shortening. */
function fullPause(n: number, bound: MigrationLockBound): number {
  return Math.min(bound.lockTimeoutMs * 2 ** (n - 1), 8 * bound.lockTimeoutMs);
}

/** How many attempts fit in the total bound, each waiting its full bound and pausing in full (at least one). */
export function plannedAttempts(bound: MigrationLockBound): number {
  let attempts = 1;
  let elapsed = bound.lockTimeoutMs + fullPause(1, bound);
  while (elapsed + bound.lockTimeoutMs <= bound.totalMs) {
    attempts += 1;
    elapsed += bound.lockTimeoutMs + fullPause(attempts, bound);
  }
  return attempts;
}

/**
 * Runs `attempt` until it applies everything, fails otherwise (rethrown as it is), or has
 * stepped aside from lock waits for as long as the bound allows; logs one line per retry.
 * Returns every migration applied, in order.
 */
export async function retryLockWaits(
  bound: MigrationLockBound,
  log: ((line: string) => void) | undefined,
  attempt: () => Promise<MigrationAttempt>,
): Promise<string[]> {
  const attempts = plannedAttempts(bound);
  const started = Date.now();
  const applied: string[] = [];
  for (let n = 1; ; n += 1) {
    const outcome = await attempt();
    applied.push(...outcome.applied);
    if (!outcome.lockTimeout) return applied;
    const { migration, waitingFor } = outcome.lockTimeout;
    const pause = Math.round(fullPause(n, bound) * (0.5 + Math.random() / 2));
    if (n >= attempts || Date.now() - started + pause + bound.lockTimeoutMs > bound.totalMs) {
      throw new Error(
        `Applying migrations failed: migration ${migration} gave up waiting for ${waitingFor ?? "its locks"} ` +
          `after ${n} attempt${n === 1 ? "" : "s"} over ${seconds(Date.now() - started)} (lock_timeout ${bound.lockTimeoutMs} ms each). ` +
          `Nothing of it was applied and its attempts are marked rolled back: the next run applies it once that ` +
          `session lets go (end it, or wait for it).`,
      );
    }
    log?.(
      `Migration ${migration} is waiting for ${waitingFor ?? "a lock another session holds"}: stepped aside ` +
        `(lock_timeout ${bound.lockTimeoutMs} ms) so the queries queued behind it can run, attempt ${n} of ${attempts}; ` +
        `trying again in ${seconds(pause)}`,
    );
    await sleep(pause);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * True when the one failed row in `_prisma_migrations` (finished_at and rolled_back_at NULL)
 * is `migration`, recorded with the checksum of `script`: the failure this attempt saw time
 * out on its lock, and nothing else that would need a person to look at it.
 */
export async function failedRowIsLockTimeout(url: string, migration: string, script: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ migration_name: string; checksum: string }>(
      "SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL",
    );
    const checksum = createHash("sha256").update(script).digest("hex");
    return rows.length === 1 && rows[0]!.migration_name === migration && rows[0]!.checksum === checksum;
  } finally {
    await client.end();
  }
}
