import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { createPasswordWork } from "./password-work.ts";

describe("password work queue", () => {
  it("runs at most `concurrency` argon2 computations and refuses beyond the waiting list with 503 + Retry-After", async () => {
    const work = createPasswordWork({ concurrency: 1, maxWaiting: 2 });
    const hash = await work.hash("a-password-to-verify");
    const calls = Array.from({ length: 6 }, () => work.verify(hash, "a-password-to-verify"));
    expect(work.stats()).toEqual({ running: 1, waiting: 2 });
    const results = await Promise.allSettled(calls);
    const accepted = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(accepted).toHaveLength(3);
    expect(accepted.every((r) => (r as PromiseFulfilledResult<boolean>).value === true)).toBe(true);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(AppError);
      expect((r.reason as AppError).code).toBe("SERVICE_UNAVAILABLE");
      expect((r.reason as AppError).retryAfterSec).toBeGreaterThan(0);
    }
    expect(work.stats()).toEqual({ running: 0, waiting: 0 });
  });
});
