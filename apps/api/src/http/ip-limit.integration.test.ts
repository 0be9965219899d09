/** IP_RATE_LIMIT_PER_MIN as a client sees it: every surface counts (each call or message on a WebSocket too), probes never do. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { openTrpcSocket } from "../../test/trpc-socket.ts";

const LIMIT = 4;
let t: TestApp;
let limited: TestApp;
/** Its own limit for each socket test (the window is a minute). */
let socketsA: TestApp;
let socketsB: TestApp;
beforeAll(async () => {
  // One after the other: PGlite's start-up runs on this thread and, on a busy machine, held
  // it long enough that the other app's 3-second Redis start-up deadline passed unanswered.
  limited = await startTestApp({ env: { IP_RATE_LIMIT_PER_MIN: String(LIMIT) } });
  socketsA = await startTestApp({ env: { IP_RATE_LIMIT_PER_MIN: String(LIMIT) } });
  socketsB = await startTestApp({ env: { IP_RATE_LIMIT_PER_MIN: String(LIMIT) } });
  t = await startTestApp({ mode: "embedded" });
});
afterAll(async () => Promise.all([t?.close(), limited?.close(), socketsA?.close(), socketsB?.close()]));

describe("per-IP limit", () => {
  it("is off by default", async () => {
    for (let i = 0; i < LIMIT * 3; i++) expect((await fetch(`${t.url}/api/health`)).status).toBe(200);
  });

  it("answers 429 with Retry-After past the limit, on every surface; probes stay up", async () => {
    const paths = ["/api/health", "/trpc/health.check", "/api/info", "/v1/models"];
    for (const path of paths) expect((await fetch(`${limited.url}${path}`)).status, path).not.toBe(429);
    const refused = await fetch(`${limited.url}/api/health`);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("TOO_MANY_REQUESTS");
    const v1 = await fetch(`${limited.url}/v1/models`);
    expect(v1.status).toBe(429);
    expect(JSON.stringify(await v1.json())).toMatch(/rate|Too many/i);
    expect((await fetch(`${limited.url}/trpc/health.check`)).status).toBe(429);
    for (const probe of ["/health", "/ready", "/metrics"]) expect((await fetch(`${limited.url}${probe}`)).status, probe).toBe(200);
  });

  it("counts every call over the tRPC WebSocket, not just the upgrade", async () => {
    const socket = await openTrpcSocket(socketsA.url); // the upgrade is request 1
    try {
      const replies = [];
      for (let id = 1; id <= LIMIT; id++) replies.push(await socket.call(id, "query", "health.check"));
      expect(replies.slice(0, LIMIT - 1).every((r) => r.result?.type === "data")).toBe(true);
      const refused = replies.at(-1)!;
      expect(refused.error?.data["code"]).toBe("TOO_MANY_REQUESTS");
      expect(refused.error?.message).toMatch(/Too many requests from this address/);
    } finally {
      await socket.close();
    }
  });

  it("counts every message over /ws/chat, not just the upgrade", async () => {
    const ws = new WebSocket(`${socketsB.url.replace(/^http/, "ws")}/ws/chat`); // the upgrade is request 1
    const received: Array<Record<string, unknown>> = [];
    ws.on("message", (data) => received.push(JSON.parse(data.toString()) as Record<string, unknown>));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    try {
      for (let id = 1; id <= LIMIT; id++) ws.send(JSON.stringify({ type: "ping", id }));
      await expect.poll(() => received.length).toBe(LIMIT);
      expect(received.slice(0, LIMIT - 1).map((m) => m["type"])).toEqual(Array(LIMIT - 1).fill("pong"));
      expect(received.at(-1)).toMatchObject({ type: "error", code: "TOO_MANY_REQUESTS", retryAfterSec: expect.any(Number) });
    } finally {
      ws.close();
    }
  });
});
