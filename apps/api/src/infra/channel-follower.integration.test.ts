/**
 * The plumbing every coordination-fed view relies on: pushed messages arrive, a Redis
 * restart is announced as a reconnect (so the view can catch up on what it missed), the
 * resync runs on its interval, and after close nothing of it runs any more.
 */
import { describe, expect, it, vi } from "vitest";
import { startRedisServer } from "../../test/redis-server.ts";
import { followChannel } from "./channel-follower.ts";
import { createMemoryCoordination } from "./coordination/memory.ts";
import { createRedisCoordination } from "./coordination/redis.ts";

const quiet = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("following a coordination channel", () => {
  it("hands over each message published on the channel and runs the resync on its interval, until closed", async () => {
    const coordination = createMemoryCoordination();
    const messages: string[] = [];
    let resyncs = 0;
    const close = await followChannel(coordination, {
      channel: "test:follow",
      onMessage: (m) => messages.push(m),
      onReconnect: () => {},
      resync: { intervalMs: 20, run: () => void (resyncs += 1) },
    });
    await coordination.publish("test:follow", "one");
    await coordination.publish("test:other", "not ours");
    await vi.waitFor(() => expect(messages).toEqual(["one"]), { timeout: 10_000 });
    await vi.waitFor(() => expect(resyncs).toBeGreaterThanOrEqual(2), { timeout: 10_000 });

    await close();
    const resyncsAtClose = resyncs;
    await coordination.publish("test:follow", "after close");
    await sleep(100);
    expect(messages).toEqual(["one"]);
    expect(resyncs).toBe(resyncsAtClose);
    await close(); // a second close is harmless
  });

  it("calls onReconnect when Redis comes back after an outage, and stops listening once closed", async () => {
    const redis = await startRedisServer();
    const coordination = await createRedisCoordination({ url: redis.url, keyPrefix: "follow:", log: quiet });
    try {
      let reconnects = 0;
      const messages: string[] = [];
      const close = await followChannel(coordination, { channel: "c", onMessage: (m) => messages.push(m), onReconnect: () => void (reconnects += 1) });
      await redis.kill();
      await vi.waitFor(() => expect(coordination.state()).toBe("degraded"), { timeout: 10_000 });
      await redis.restart();
      await vi.waitFor(() => expect(reconnects).toBe(1), { timeout: 10_000 });
      // The subscription is restored with the connection.
      await coordination.publish("c", "after the restart");
      await vi.waitFor(() => expect(messages).toEqual(["after the restart"]), { timeout: 10_000 });

      await close();
      await redis.kill();
      await vi.waitFor(() => expect(coordination.state()).toBe("degraded"), { timeout: 10_000 });
      await redis.restart();
      await vi.waitFor(() => expect(coordination.state()).toBe("ready"), { timeout: 10_000 });
      await sleep(100);
      expect(reconnects).toBe(1);
    } finally {
      await coordination.close();
      await redis.stop();
    }
  });
});
