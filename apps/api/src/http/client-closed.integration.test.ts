/**
 * A request whose client left before its response was sent in full is recorded with status
 * 499 (nginx's "client closed request") and outcome `client_closed`: in its access-log line,
 * its request-log row and the HTTP metrics alike — left while waiting for the answer, or
 * mid-stream after a 200 had gone out (the line then says `sentStatus`). A WebSocket closed
 * in the ordinary way is none of these: its handshake was answered (101). Real clients
 * connect on their own sockets and close them.
 */
import { request, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { eventually } from "../../test/chat.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer, trpcQuery } from "../../test/http.ts";
import { captureLog, type LogLine } from "../../test/log-capture.ts";
import { scrapedSum } from "../../test/prometheus-parser.ts";

let t: TestApp;
let beta: FakeOpenAIServer;
let log: ReturnType<typeof captureLog>;
let token: string;
let adminToken: string;

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  log = captureLog();
  t = await startTestApp({ env: { LOG_LEVEL: "info", BETA_MODEL_BASE_URL: beta.url, PROVIDER_ORDER: "beta,template" }, logDestination: log.sink });
  adminToken = await t.login();
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await beta?.close();
});

/** Sends a chat completion on a connection of its own; `response` settles when the status line arrives. */
function chatCompletion(stream: boolean): { response: Promise<IncomingMessage>; leave(): void } {
  const req = request(`${t.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, agent: false });
  const response = new Promise<IncomingMessage>((resolve) => req.once("response", resolve));
  req.on("error", () => {});
  req.end(JSON.stringify({ model: "auto", stream, messages: [{ role: "user", content: "hello" }] }));
  return { response, leave: () => void req.destroy() };
}

const accessLine = (requestId: string) =>
  eventually(async () => log.lines.find((l: LogLine) => l["msg"] === "request" && l["reqId"] === requestId), `the access-log line of ${requestId}`);

const logRow = (requestId: string) =>
  eventually(async () => {
    const res = await trpcQuery(t.url, "logs.list", { limit: 100 }, bearer(adminToken));
    return (res.body.result.data.items as Array<Record<string, unknown>>).find((row) => row["requestId"] === requestId);
  }, `the request-log row of ${requestId}`);

/** The access-log line of the one chat completion that ended since `linesBefore` lines were written. */
const nextCompletionLine = (linesBefore: number) =>
  eventually(async () => log.lines.slice(linesBefore).find((l) => l["msg"] === "request" && l["url"] === "/v1/chat/completions"), "the request's access-log line");

describe("a client that leaves", () => {
  it("before the answer: 499 in the access log, the request-log row and the HTTP metrics", async () => {
    const before499 = await scrapedSum(t.url, "switchboard_http_requests_total", { route: "/v1/chat/completions", status: "499" });
    const requestsBefore = beta.requests.length;
    const linesBefore = log.lines.length;
    beta.enqueue({ kind: "slow", delayMs: 30_000 });
    const call = chatCompletion(false);
    await beta.waitForRequests(requestsBefore + 1);
    call.leave();
    await beta.waitForAbort(requestsBefore);

    const line = await nextCompletionLine(linesBefore);
    const requestId = line["reqId"] as string;
    expect(line).toMatchObject({ status: 499, outcome: "client_closed" });
    expect(line["sentStatus"]).toBeUndefined();
    expect(await logRow(requestId)).toMatchObject({ status: 499, errorCode: null, stream: false });
    await eventually(
      async () => ((await scrapedSum(t.url, "switchboard_http_requests_total", { route: "/v1/chat/completions", status: "499" })) > before499 ? true : undefined),
      "the 499 in the HTTP metrics",
    );
    expect(await scrapedSum(t.url, "switchboard_gateway_requests_total", { surface: "openai", outcome: "client_closed" })).toBeGreaterThan(0);
  });

  it("mid-stream, after its 200 went out: 499 with the status that was sent beside it", async () => {
    const requestsBefore = beta.requests.length;
    beta.enqueue({ kind: "stall", afterChunks: 1 });
    const call = chatCompletion(true);
    const response = await call.response;
    expect(response.statusCode).toBe(200);
    // The first chunk arrived: the stream is under way.
    await new Promise((resolve) => response.once("data", resolve));
    call.leave();
    await beta.waitForAbort(requestsBefore);

    const requestId = String(response.headers["x-request-id"]);
    const line = await accessLine(requestId);
    expect(line).toMatchObject({ status: 499, sentStatus: 200, outcome: "client_closed", stream: true });
    expect(await logRow(requestId)).toMatchObject({ status: 499, errorCode: null, stream: true });
  });

  it("a request answered in full keeps its status", async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hello" }] }),
    });
    expect(res.status).toBe(200);
    const line = await accessLine(res.headers.get("x-request-id")!);
    expect(line).toMatchObject({ status: 200, outcome: "success" });
  });
});

describe("a WebSocket closed in the ordinary way", () => {
  /** Opens a socket at `path`, waits until it is open, then closes it cleanly. */
  async function openAndClose(path: string): Promise<void> {
    const ws = new WebSocket(`${t.url.replace(/^http/, "ws")}${path}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const closed = new Promise((resolve) => ws.once("close", resolve));
    ws.close(1000);
    await closed;
  }

  it.each(["/ws/chat", "/trpc"])("%s: its handshake is logged and counted as 101, never 499", async (route) => {
    const linesBefore = log.lines.length;
    const before = await scrapedSum(t.url, "switchboard_http_requests_total", { route, status: "101" });
    const before499 = await scrapedSum(t.url, "switchboard_http_requests_total", { route, status: "499" });
    await openAndClose(route);

    const line = await eventually(async () => log.lines.slice(linesBefore).find((l) => l["msg"] === "request" && l["route"] === route), `the access-log line of ${route}`);
    expect(line).toMatchObject({ status: 101, outcome: "success" });
    expect(line["sentStatus"]).toBeUndefined();
    await eventually(
      async () => ((await scrapedSum(t.url, "switchboard_http_requests_total", { route, status: "101" })) > before ? true : undefined),
      "the 101 in the HTTP metrics",
    );
    expect(await scrapedSum(t.url, "switchboard_http_requests_total", { route, status: "499" })).toBe(before499);
  });
});
