/**
 * Structured logs as written: a real Switchboard logs into a captured stream while real
 * requests go through it; the test reads the JSON lines back. One access line per request
 * with request id, user id, procedure or route, provider, latency and outcome — a gateway
 * call over a WebSocket too, which is also counted in /metrics; no password, token or key
 * anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createSwitchboardClient } from "@switchboard/client";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../test/app.ts";
import { collectStream, eventually, socketChat } from "../../test/chat.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer, trpcMutation } from "../../test/http.ts";
import { captureLog, type LogLine } from "../../test/log-capture.ts";
import { scrapedSum } from "../../test/prometheus-parser.ts";
import { createLogger } from "../infra/logger.ts";

const BETA_KEY = "sk-beta-very-secret-9d2e";
const USER_PASSWORD = "a-long-enough-password";

let t: TestApp;
let beta: FakeOpenAIServer;
let log: ReturnType<typeof captureLog>;

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  log = captureLog();
  t = await startTestApp({
    env: { LOG_LEVEL: "info", BETA_MODEL_BASE_URL: beta.url, BETA_MODEL_API_KEY: BETA_KEY, PROVIDER_ORDER: "beta,template" },
    logDestination: log.sink,
  });
});
afterAll(async () => {
  await t?.close();
  await beta?.close();
});

const requestLines = (pred: (l: LogLine) => boolean) => log.lines.filter((l) => l["msg"] === "request" && pred(l));

describe("access log", () => {
  it("writes one line per request with request id, user, procedure, provider, latency and outcome", async () => {
    const user = await t.userWithRole("USER");
    const reply = await t.client(user.token).chat.send.mutate({ message: "hello log" });
    expect(reply.provider).toBe("beta");

    const [line, ...more] = requestLines((l) => l["procedure"] === "chat.send");
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      method: "POST",
      route: "/trpc/:path",
      url: "/trpc/chat.send",
      userId: user.id,
      status: 200,
      outcome: "success",
      provider: "beta",
      providerOutcome: "success",
      upstreamCalls: 1,
    });
    expect(line!["reqId"]).toEqual(expect.any(String));
    expect(line!["ms"]).toEqual(expect.any(Number));
    expect(line!["overheadMs"]).toEqual(expect.any(Number));
    expect(line!["overheadMs"] as number).toBeLessThanOrEqual(line!["ms"] as number);
  });

  it("logs a stream when it ends, with the provider that streamed and the time before upstream", async () => {
    const user = await t.userWithRole("USER");
    const events = await collectStream(t.client(user.token), { message: "stream to the log" });
    expect(events.at(-1)?.type).toBe("chat_complete");
    await eventually(async () => (requestLines((l) => l["procedure"] === "chat.stream" && l["userId"] === user.id).length > 0 ? true : undefined), "the stream's access line");
    const [line] = requestLines((l) => l["procedure"] === "chat.stream" && l["userId"] === user.id);
    expect(line).toMatchObject({ method: "GET", status: 200, outcome: "success", stream: true, provider: "beta", providerOutcome: "success", upstreamCalls: 1 });
    expect(line!["overheadMs"]).toEqual(expect.any(Number));
  });

  it("ties a failed provider call to its request by id, and logs the fallback that answered", async () => {
    const user = await t.userWithRole("USER");
    beta.enqueue({ kind: "status", status: 500 });
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(user.token) },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "fall back please" }] }),
    });
    expect(res.status).toBe(200);
    await res.text();

    const [line] = requestLines((l) => l["url"] === "/v1/chat/completions" && l["userId"] === user.id);
    expect(line).toMatchObject({ route: "/v1/chat/completions", status: 200, outcome: "success", provider: "template", upstreamCalls: 2 });
    const failed = log.lines.find((l) => l["msg"] === "provider call" && l["reqId"] === line!["reqId"]);
    expect(failed).toMatchObject({ provider: "beta", outcome: "http_error", status: 500, fallback: false });
  });

  it("names the error code as the outcome of a refused request", async () => {
    const user = await t.userWithRole("USER");
    const res = await trpcMutation(t.url, "chat.send", { message: "" }, bearer(user.token));
    expect(res.status).toBe(400);
    const [line] = requestLines((l) => l["procedure"] === "chat.send" && l["status"] === 400);
    expect(line).toMatchObject({ outcome: "BAD_REQUEST", userId: user.id });
    const anonymous = requestLines((l) => l["url"] === "/trpc/auth.login");
    expect(anonymous.every((l) => l["userId"] === null)).toBe(true);
  });

  it("never writes passwords, tokens or keys", async () => {
    const login = await t.client().auth.login.mutate({ email: TEST_SUPERADMIN.email, password: TEST_SUPERADMIN.password });
    const user = await t.userWithRole("USER");
    // A refused sign-in and a request with a bogus bearer token are logged too.
    await t.client().auth.login.mutate({ email: user.email, password: "wrong-password-123" }).catch(() => {});
    await fetch(`${t.url}/v1/models`, { headers: { authorization: "Bearer not-a-real-token-7b1f", cookie: "sb_access=cookie-secret-55" } });
    await t.client(user.token).chat.send.mutate({ message: "secret-free?" });
    const text = log.text();
    for (const secret of [
      TEST_SUPERADMIN.password,
      USER_PASSWORD,
      "wrong-password-123",
      login.accessToken,
      login.refreshToken,
      user.token,
      "not-a-real-token-7b1f",
      "cookie-secret-55",
      BETA_KEY,
      t.app.deps.env.JWT_SECRET!,
    ]) {
      expect(text.includes(secret), `log contains ${secret.slice(0, 12)}…`).toBe(false);
    }
  });
});

const metric = (name: string, labels: Record<string, string>) => scrapedSum(t.url, name, labels);

/** The one access line `pred` picks, once it is written (a socket call ends after its last message). */
async function oneLine(pred: (l: LogLine) => boolean, what: string): Promise<LogLine> {
  const line = await eventually(async () => requestLines(pred)[0], what);
  expect(requestLines(pred)).toHaveLength(1);
  return line;
}

/** The request-log row of a request id, once the batch writer wrote it. */
async function rowOf(requestId: string) {
  await t.app.deps.requestLog.flush();
  return t.app.deps.db.prisma.requestLog.findFirst({ where: { requestId } });
}

describe("calls over a WebSocket", () => {
  it("writes one line per /ws/chat chat with the route and id of its row, and counts it in the gateway metrics", async () => {
    const user = await t.userWithRole("USER");
    const counted = () => Promise.all([
      metric("switchboard_gateway_requests_total", { surface: "ws", outcome: "success" }),
      metric("switchboard_http_requests_total", { method: "WS", route: "/ws/chat", status: "200" }),
      metric("switchboard_gateway_requests_total", { surface: "ws", outcome: "BAD_REQUEST" }),
    ]);
    const before = await counted();

    expect((await socketChat(t.url, user.token, { message: "hello socket log" })).at(-1)?.type).toBe("chat_complete");
    const line = await oneLine((l) => l["method"] === "WS" && l["userId"] === user.id && l["status"] === 200, "the chat's access line");
    expect(line).toMatchObject({
      level: 30,
      route: "/ws/chat",
      url: "/ws/chat",
      procedure: "chat.stream",
      outcome: "success",
      stream: true,
      provider: "beta",
      providerOutcome: "success",
      upstreamCalls: 1,
    });
    expect(line["overheadMs"]).toEqual(expect.any(Number));
    expect(line["overheadMs"] as number).toBeLessThanOrEqual(line["ms"] as number);
    expect(await rowOf(line["reqId"] as string)).toMatchObject({ method: "WS", route: "/ws/chat", userId: user.id, status: 200, stream: true });

    // A refused chat: its status and code, as HTTP would answer.
    expect((await socketChat(t.url, user.token, { message: "" })).at(-1)).toMatchObject({ type: "error", code: "BAD_REQUEST" });
    const refused = await oneLine((l) => l["method"] === "WS" && l["userId"] === user.id && l["status"] === 400, "the refusal's access line");
    expect(refused).toMatchObject({ route: "/ws/chat", outcome: "BAD_REQUEST" });

    const after = await counted();
    expect(after[0] - before[0]).toBe(1);
    expect(after[1] - before[1]).toBe(1);
    expect(after[2] - before[2]).toBe(1);
  });

  it("writes one line per chat.* call over tRPC's WebSocket, named by its procedure, and counts it as tRPC", async () => {
    const user = await t.userWithRole("USER");
    const counted = () => Promise.all([
      metric("switchboard_gateway_requests_total", { surface: "trpc", outcome: "success" }),
      metric("switchboard_http_requests_total", { method: "WS", route: "chat.stream", status: "200" }),
    ]);
    const before = await counted();

    const client = createSwitchboardClient({ url: t.url, token: user.token, transport: "websocket", WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
    expect((await collectStream(client, { message: "over trpc's socket" })).at(-1)?.type).toBe("chat_complete");
    const line = await oneLine((l) => l["method"] === "WS" && l["userId"] === user.id, "the call's access line");
    expect(line).toMatchObject({ route: "chat.stream", url: "/trpc", procedure: "chat.stream", status: 200, outcome: "success", stream: true, provider: "beta", upstreamCalls: 1 });
    expect(line["overheadMs"]).toEqual(expect.any(Number));
    expect(await rowOf(line["reqId"] as string)).toMatchObject({ method: "WS", route: "chat.stream", userId: user.id, status: 200 });

    const after = await counted();
    expect(after[0] - before[0]).toBe(1);
    expect(after[1] - before[1]).toBe(1);
  });
});

describe("logger", () => {
  it("redacts secrets wherever they are logged", () => {
    const out = captureLog();
    const logger = createLogger("info", out.sink);
    logger.info(
      {
        password: "p1",
        user: { password: "p2", apiKey: "k1" },
        token: "t1",
        tokens: { accessToken: "t2", refreshToken: "t3" },
        req: { headers: { authorization: "Bearer t4", cookie: "sb_access=t5" } },
        env: {
          JWT_SECRET: "s1",
          SUPERADMIN_PASSWORD: "s2",
          OPENAI_API_KEY: "s3",
          DATABASE_URL: "postgresql://u:pw@h/db",
          METRICS_TOKEN: "s4",
          SECRETS_KEY: "s5",
          OIDC_CLIENT_SECRET: "s6",
          GITHUB_CLIENT_SECRET: "s7",
        },
      },
      "careless",
    );
    expect(out.text()).not.toMatch(/p1|p2|k1|t1|t2|t3|t4|t5|s1|s2|s3|s4|s5|s6|s7|pw@/);
    expect(out.lines[0]).toMatchObject({ password: "[redacted]", user: { password: "[redacted]" }, req: { headers: { authorization: "[redacted]" } } });
  });

  it("honours LOG_LEVEL", () => {
    const out = captureLog();
    const logger = createLogger("warn", out.sink);
    logger.info("quiet");
    logger.warn("loud");
    expect(out.lines.map((l) => l["msg"])).toEqual(["loud"]);
  });
});
