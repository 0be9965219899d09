/**
 * A WebSocket peer that keeps asking but stops reading is cut off once the replies queued for
 * it pass MAX_BUFFERED_BYTES, with a warn line; a peer that reads the same traffic keeps its
 * socket and every reply. Real server, real `ws` speaking tRPC's wire protocol.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { eventually } from "../../../test/chat.ts";
import { captureLog } from "../../../test/log-capture.ts";
import { openTrpcSocket } from "../../../test/trpc-socket.ts";
import { MAX_BUFFERED_BYTES } from "./slow-reader.ts";

let t: TestApp;
const log = captureLog();

beforeAll(async () => {
  // Behind a trusted proxy (loopback here), as in production: the log names the client, not the proxy.
  t = await startTestApp({ mode: "embedded", env: { LOG_LEVEL: "warn", TRUST_PROXY: "127.0.0.1" }, logDestination: log.sink });
});
afterAll(async () => {
  await t?.close();
});

/** tRPC answers an unknown procedure with an error that repeats the call's id: 1 MB out for 1 MB in. */
const LONG_ID_BYTES = 1024 * 1024;
/** Replies worth several times the bound plus what the kernel's socket buffers can hold. */
const CALLS = Math.ceil((3 * MAX_BUFFERED_BYTES) / LONG_ID_BYTES) + 24;
const longIdCall = (n: number) => ({ id: `${n}:${"x".repeat(LONG_ID_BYTES)}`, method: "query", params: { path: "no.such.procedure", input: null } });

describe("a WebSocket peer that stops reading", () => {
  it("is dropped once its unread replies pass the bound, and the server says so, naming the client", async () => {
    const socket = await openTrpcSocket(t.url, { headers: { "x-forwarded-for": "203.0.113.7" } });
    socket.ws.pause();
    for (let n = 0; n < CALLS; n++) socket.send(longIdCall(n));
    const warned = await eventually(async () => log.lines.find((line) => line["msg"] === "dropped a WebSocket peer that stopped reading"), "the drop", 20_000);
    expect(warned).toMatchObject({ ws: "/trpc", limitBytes: MAX_BUFFERED_BYTES, remoteAddress: "203.0.113.7" });
    expect(warned["bufferedBytes"]).toBeGreaterThan(MAX_BUFFERED_BYTES);
    socket.ws.resume();
    const closed = await socket.closed;
    expect(closed.code).toBe(1006); // cut, no close frame: nothing could reach a peer that does not read
    expect(socket.replies.length).toBeLessThan(CALLS);
  });

  it("a peer that reads the same traffic keeps its socket and gets every reply", async () => {
    const dropsBefore = log.lines.length;
    const socket = await openTrpcSocket(t.url);
    for (let n = 0; n < CALLS; n++) socket.send(longIdCall(n));
    await socket.barrier();
    await eventually(async () => (socket.replies.length === CALLS ? true : undefined), "every reply", 20_000);
    expect(socket.replies.every((reply) => reply.error?.data["code"] === "NOT_FOUND")).toBe(true);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    expect(log.lines.slice(dropsBefore).some((line) => line["msg"] === "dropped a WebSocket peer that stopped reading")).toBe(false);
    await socket.close();
  });
});
