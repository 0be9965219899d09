/**
 * The legacy /api/chat/stream, like the /v1 streams, keeps a slow answer's connection talking:
 * after the heartbeat interval (100 ms here) without an event the response starts with a
 * `: keep-alive` comment, and more follow whenever the stream is silent that long. The old
 * clients read only `data:` lines, so they see the same events as before; a failure after a
 * comment is the same `error` event a quick failure or a break after text already was.
 * Real local upstreams that hold their first chunk.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, loggedRow } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

const HEARTBEAT_MS = 100;
/** Long enough for a few heartbeats before the first token. */
const THINKING_MS = 450;

let t: TestApp;
let up: Upstreams<"beta">;
let token: string;

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  t = await startTestApp({
    // No offline template to fall back on: beta's failures reach the client.
    env: { ...up.env, PROVIDER_ORDER: "beta", CIRCUIT_FAILURE_THRESHOLD: "1000", CHAT_RATE_LIMIT_PER_MIN: "1000" },
    appOptions: { sseHeartbeatMs: HEARTBEAT_MS, requestLogFlushMs: 50 },
  });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const ask = () =>
  fetch(`${t.url}/api/chat/stream`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify({ message: "think", model: "beta" }) });
const blocks = (text: string) => text.split("\n\n").filter(Boolean);
/** What an old client reads: the JSON of each `data:` line, comments skipped. */
const dataEvents = (sent: string[]) => sent.filter((b) => b.startsWith("data: ")).map((b) => JSON.parse(b.slice(6)) as Record<string, unknown>);

const logRow = (requestId: string) => loggedRow(t.url, token, requestId);

describe("POST /api/chat/stream, a first token long in coming", () => {
  it("starts with its headers and keep-alive comments, then the usual events", async () => {
    let answer!: () => void;
    up.fakes.beta.setDefault({ kind: "wait", until: new Promise<void>((resolve) => (answer = resolve)), content: "Thought it through." });
    // The head arrives while the upstream is still silent: nothing here releases it before.
    const res = await ask();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("x-switchboard-provider")).toBeNull();
    setTimeout(answer, THINKING_MS);
    const sent = blocks(await res.text());
    const firstData = sent.findIndex((b) => b.startsWith("data:"));
    expect(firstData).toBeGreaterThanOrEqual(2);
    expect(sent.slice(0, firstData).every((b) => b === ": keep-alive")).toBe(true);
    const events = dataEvents(sent);
    expect(events[0]).toMatchObject({ type: "chat_start", provider: "beta" });
    expect(events.filter((e) => e.type === "chat_delta").map((e) => e["content"]).join("")).toBe("Thought it through.");
    expect(events.at(-1)).toMatchObject({ type: "chat_complete", content: "Thought it through." });
  });

  it("a quick answer starts with its first event, no comment, the provider named in its head", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "quick" });
    const res = await ask();
    expect(res.headers.get("x-switchboard-provider")).toBe("beta");
    const sent = blocks(await res.text());
    expect(sent[0]).toMatch(/^data: \{"type":"chat_start"/);
    expect(sent).not.toContain(": keep-alive");
  });

  it("a comment goes out whenever the upstream pauses between tokens; the answer is whole", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "one two three", chunkDelayMs: 250 });
    const sent = blocks(await (await ask()).text());
    const firstData = sent.findIndex((b) => b.startsWith("data:"));
    expect(sent.slice(firstData).filter((b) => b === ": keep-alive").length).toBeGreaterThanOrEqual(2);
    expect(dataEvents(sent).at(-1)).toMatchObject({ type: "chat_complete", content: "one two three" });
  });
});

describe("POST /api/chat/stream, failures", () => {
  it("after a comment: the error event a quick failure gets, shaped as a break after text, logged alike", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500 });
    const quick = await ask();
    const quickSent = blocks(await quick.text());
    expect(quickSent).not.toContain(": keep-alive");
    const quickError = dataEvents(quickSent).at(-1)!;
    expect(quickError).toMatchObject({ type: "error", code: expect.any(String), message: expect.any(String) });

    up.fakes.beta.enqueue({ kind: "status", status: 500, delayMs: THINKING_MS });
    const late = await ask();
    expect(late.status).toBe(200);
    const lateSent = blocks(await late.text());
    expect(lateSent[0]).toBe(": keep-alive");
    const lateEvents = dataEvents(lateSent);
    expect(lateEvents).toEqual([quickError]);

    up.fakes.beta.enqueue({ kind: "cut", afterChunks: 1, content: "one two three" });
    const afterText = dataEvents(blocks(await (await ask()).text()));
    expect(afterText.some((e) => e.type === "chat_delta")).toBe(true);
    expect(Object.keys(afterText.at(-1)!).sort()).toEqual(Object.keys(lateEvents[0]!).sort());

    const [quickRow, lateRow] = await Promise.all([logRow(quick.headers.get("x-request-id")!), logRow(late.headers.get("x-request-id")!)]);
    expect(lateRow).toMatchObject({ status: 200, stream: true, errorCode: quickRow["errorCode"] });
    expect(lateRow["errorCode"]).toBeTruthy();
  });

  it("a refusal within the wait keeps its HTTP status", async () => {
    const res = await fetch(`${t.url}/api/chat/stream`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify({ message: "" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "BAD_REQUEST" } });
  });
});
