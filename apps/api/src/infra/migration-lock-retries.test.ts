import { describe, expect, it } from "vitest";
import { MIGRATION_LOCK_BOUND, plannedAttempts, retryLockWaits, type MigrationAttempt } from "./migration-lock-retries.ts";

const timedOut = (migration: string): MigrationAttempt => ({ applied: [], lockTimeout: { migration, waitingFor: 'a lock on table "T"' } });

describe("plannedAttempts", () => {
  it("fits attempts and doubling pauses in the total bound", () => {
    // 2 s attempts, pauses 2, 4, 8, 16, 16, 16 s: the 7th attempt ends at 76 s, an 8th would end at 94 s.
    expect(plannedAttempts(MIGRATION_LOCK_BOUND)).toBe(7);
    expect(plannedAttempts({ lockTimeoutMs: 200, totalMs: 2_000 })).toBe(3);
    expect(plannedAttempts({ lockTimeoutMs: 5_000, totalMs: 1_000 })).toBe(1);
  });
});

describe("retryLockWaits", () => {
  it("retries lock waits with a line each, and returns what every attempt applied", async () => {
    const lines: string[] = [];
    const outcomes: MigrationAttempt[] = [{ applied: ["a"], lockTimeout: timedOut("b").lockTimeout }, timedOut("b"), { applied: ["b", "c"] }];
    const applied = await retryLockWaits({ lockTimeoutMs: 10, totalMs: 10_000 }, (l) => lines.push(l), async () => outcomes.shift()!);
    expect(applied).toEqual(["a", "b", "c"]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Migration b is waiting for a lock on table "T": stepped aside \(lock_timeout 10 ms\) .*attempt 1 of \d+; trying again in 0\.0 s$/);
    expect(lines[1]).toMatch(/attempt 2 of/);
  });

  it("gives up after the planned attempts, naming the migration and its wait", async () => {
    let attempts = 0;
    const bound = { lockTimeoutMs: 10, totalMs: 200 };
    const giving = retryLockWaits(bound, undefined, async () => (attempts++, timedOut("b")));
    await expect(giving).rejects.toThrow(/^Applying migrations failed: migration b gave up waiting for a lock on table "T" after \d+ attempts over/);
    expect(attempts).toBeLessThanOrEqual(plannedAttempts(bound));
    expect(attempts).toBeGreaterThan(1);
  });

  it("rethrows any other failure at once", async () => {
    let attempts = 0;
    const failing = retryLockWaits({ lockTimeoutMs: 10, totalMs: 10_000 }, undefined, async () => {
      attempts++;
      throw new Error("Applying migrations failed: syntax error");
    });
    await expect(failing).rejects.toThrow("syntax error");
    expect(attempts).toBe(1);
  });
});
