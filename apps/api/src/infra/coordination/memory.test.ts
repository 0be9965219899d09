import { describe, expect, it } from "vitest";
import { createMemoryCoordination } from "./memory.ts";
import { createCoordination } from "./index.ts";
import { describeCoordinationContract } from "./coordination.contract.ts";

// Handler errors are part of the contract run; keep them out of the test output.
describeCoordinationContract("memory", async () => createMemoryCoordination({ log: () => {} }));

describe("memory adapter", () => {
  it("is what createCoordination picks without a Redis URL", async () => {
    const c = await createCoordination({ redisUrl: "" });
    expect(c.kind).toBe("memory");
    await c.close();
  });

  it("leaves no timers behind after close", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const c = createMemoryCoordination();
    await c.set("k", "v", { ttlMs: 60_000 });
    await c.publish("ch", "m");
    await c.close();
    expect(timers()).toBe(before);
  });
});
