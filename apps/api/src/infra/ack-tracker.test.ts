import { describe, expect, it } from "vitest";
import { createAckTracker } from "./ack-tracker.ts";

describe("ack tracker", () => {
  it("resolves as soon as every expected instance acknowledged the version or a newer one", async () => {
    const tracker = createAckTracker();
    const wait = tracker.expect(5, "self");
    const done = wait.until(["self", "a", "b"], performance.now() + 60_000);
    tracker.record(4, "a"); // older: does not count
    tracker.record(5, "a");
    setImmediate(() => tracker.record(6, "b"));
    await done;
    expect([...wait.acked].sort()).toEqual(["a", "b", "self"]);
    wait.dispose();
  });

  it("gives up at the deadline and reports who answered", async () => {
    const tracker = createAckTracker();
    const wait = tracker.expect(1, "self");
    tracker.record(1, "a");
    await wait.until(["self", "a", "silent"], performance.now() + 20);
    expect(wait.acked.has("silent")).toBe(false);
    expect(wait.acked.size).toBe(2);
    wait.dispose();
    tracker.record(1, "late");
    expect(wait.acked.has("late")).toBe(false);
  });
});
