/**
 * WS_SOCKETS_PER_IP: one address holds at most that many WebSockets on an instance, /trpc
 * and /ws/chat together; one more upgrade is a 429 with Retry-After before any handshake,
 * and a place is free again once a socket closes. Real server, real `ws`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { eventually } from "../../../test/chat.ts";

const LIMIT = 3;
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ mode: "embedded", env: { WS_SOCKETS_PER_IP: String(LIMIT) } });
});
afterAll(async () => {
  await t?.close();
});

/** Opens a socket; resolves with it once open, or with the HTTP status that refused the upgrade. */
function open(path: string): Promise<{ socket?: WebSocket; status?: number; retryAfter?: string }> {
  const socket = new WebSocket(`${t.url.replace(/^http/, "ws")}${path}`);
  return new Promise((resolve, reject) => {
    socket.once("open", () => resolve({ socket }));
    socket.once("unexpected-response", (_request, response) => {
      resolve({ status: response.statusCode, retryAfter: response.headers["retry-after"] });
      response.resume();
    });
    socket.once("error", (error) => reject(error));
  });
}

describe("open WebSockets per address", () => {
  it("refuses one more than WS_SOCKETS_PER_IP with 429, counting /trpc and /ws/chat together, and frees a place when a socket closes", async () => {
    const held = [await open("/trpc"), await open("/ws/chat"), await open("/trpc")];
    expect(held.every((h) => h.socket?.readyState === WebSocket.OPEN)).toBe(true);

    for (const path of ["/trpc", "/ws/chat"]) {
      const refused = await open(path);
      expect(refused.status, path).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    }

    held[0]!.socket!.close();
    const reopened = await eventually(async () => {
      const attempt = await open("/trpc");
      return attempt.socket ?? undefined;
    }, "a place freed by the closed socket");
    expect(reopened.readyState).toBe(WebSocket.OPEN);
    for (const socket of [reopened, held[1]!.socket!, held[2]!.socket!]) socket.close();
  });
});
