import { describe, expect, it } from "vitest";
import type { TEmergencyStatus } from "@switchboard/schema";
import { inactiveState } from "./policy.ts";
import { createStateWatchers } from "./watchers.ts";

const frozen = (version: number): TEmergencyStatus => ({
  active: true, scope: "global", reason: "r", activatedAt: null, activatedBy: null, expiresAt: null, version,
});

describe("state watchers", () => {
  it("streams the current state, then changes, coalescing to the latest and skipping repeats", async () => {
    const watchers = createStateWatchers();
    let now: TEmergencyStatus = inactiveState(1);
    const controller = new AbortController();
    const stream = watchers.stream(() => now, controller.signal);
    expect((await stream.next()).value).toEqual(inactiveState(1));

    now = frozen(2);
    watchers.emit(now);
    watchers.emit(frozen(3)); // overtakes 2 before the consumer reads
    expect((await stream.next()).value).toEqual(frozen(3));

    const next = stream.next();
    watchers.emit(frozen(3)); // same state: not repeated
    watchers.emit(inactiveState(4));
    expect((await next).value).toEqual(inactiveState(4));

    const pending = stream.next();
    controller.abort();
    expect((await pending).done).toBe(true);
  });

  it("ends every stream when closed, and a throwing listener does not starve others", async () => {
    const watchers = createStateWatchers();
    const seen: number[] = [];
    watchers.add(() => {
      throw new Error("boom");
    });
    watchers.add((s) => seen.push(s.version));
    watchers.emit(frozen(9));
    expect(seen).toEqual([9]);

    const stream = watchers.stream(() => inactiveState(0));
    await stream.next();
    const pending = stream.next();
    watchers.close();
    expect((await pending).done).toBe(true);
  });
});
