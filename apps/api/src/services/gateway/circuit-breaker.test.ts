import { describe, expect, it } from "vitest";
import { createCircuitBreaker } from "./circuit-breaker.ts";

function setup(threshold = 3, cooldownMs = 5000) {
  let clock = 1_000_000;
  const breaker = createCircuitBreaker({ failureThreshold: threshold, cooldownMs, now: () => clock });
  return { breaker, advance: (ms: number) => void (clock += ms), at: () => clock };
}

describe("circuit breaker", () => {
  it("opens after the threshold of consecutive failures and stays open for the cooldown", () => {
    const { breaker, advance, at } = setup();
    breaker.recordFailure("a");
    breaker.recordFailure("a");
    expect(breaker.tryAcquire("a")).toBe(true);
    expect(breaker.snapshot("a")).toEqual({ state: "closed", consecutiveFailures: 2, retryAt: null });
    breaker.recordFailure("a");
    expect(breaker.snapshot("a")).toEqual({ state: "open", consecutiveFailures: 3, retryAt: at() + 5000 });
    expect(breaker.tryAcquire("a")).toBe(false);
    advance(4999);
    expect(breaker.tryAcquire("a")).toBe(false);
  });

  it("a success resets the count, so only consecutive failures open it", () => {
    const { breaker } = setup();
    breaker.recordFailure("a");
    breaker.recordFailure("a");
    breaker.recordSuccess("a");
    breaker.recordFailure("a");
    breaker.recordFailure("a");
    expect(breaker.snapshot("a").state).toBe("closed");
  });

  it("after the cooldown lets exactly one probe through; its success closes the circuit", () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i++) breaker.recordFailure("a");
    advance(5000);
    expect(breaker.snapshot("a").state).toBe("half_open");
    expect(breaker.tryAcquire("a")).toBe(true);
    expect(breaker.tryAcquire("a")).toBe(false);
    breaker.recordSuccess("a");
    expect(breaker.snapshot("a")).toEqual({ state: "closed", consecutiveFailures: 0, retryAt: null });
    expect(breaker.tryAcquire("a")).toBe(true);
  });

  it("a failed probe opens the circuit for another full cooldown", () => {
    const { breaker, advance, at } = setup();
    for (let i = 0; i < 3; i++) breaker.recordFailure("a");
    advance(6000);
    expect(breaker.tryAcquire("a")).toBe(true);
    breaker.recordFailure("a");
    expect(breaker.snapshot("a")).toMatchObject({ state: "open", retryAt: at() + 5000 });
    expect(breaker.tryAcquire("a")).toBe(false);
  });

  it("a probe released without a verdict frees the slot for the next caller", () => {
    const { breaker, advance } = setup(1, 100);
    breaker.recordFailure("a");
    advance(100);
    expect(breaker.tryAcquire("a")).toBe(true);
    breaker.release("a");
    expect(breaker.tryAcquire("a")).toBe(true);
  });

  it("keeps providers independent", () => {
    const { breaker } = setup(1);
    breaker.recordFailure("a");
    expect(breaker.tryAcquire("a")).toBe(false);
    expect(breaker.tryAcquire("b")).toBe(true);
  });
});
