/**
 * The old backends' clients, request for request as their documentation shows them, get
 * their old answer shapes from Switchboard, with Switchboard's auth, roles and freeze.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { rawRequest } from "../../../test/raw-http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let t: TestApp;
let upstreams: Upstreams<"beta" | "deepseek">;
let spaDir: string;
let user: { id: string; email: string; token: string };
let admin: { id: string; email: string; token: string };
let root: string;

const json = { "content-type": "application/json" };
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

async function call(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { ...(opts.body !== undefined ? json : {}), ...(opts.token ? auth(opts.token) : {}), ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** Reads an SSE response into its `data:` JSON events. */
async function sseEvents(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  return text
    .split("\n\n")
    .map((block) => block.split("\n").find((l) => l.startsWith("data: ")))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice("data: ".length)) as Record<string, unknown>);
}

beforeAll(async () => {
  upstreams = await startUpstreams(["beta", "deepseek"]);
  spaDir = await mkdtemp(join(tmpdir(), "switchboard-spa-"));
  await writeFile(join(spaDir, "index.html"), "<!doctype html><title>admin</title>");
  t = await startTestApp({ env: { ...upstreams.env, ADMIN_DIST_DIR: spaDir } });
  root = await t.login();
  user = await t.userWithRole("USER");
  admin = await t.userWithRole("ADMIN");
});
afterAll(async () => {
  await t?.close();
  await upstreams?.close();
  await rm(spaDir, { recursive: true, force: true });
});
afterEach(() => upstreams.reset());

describe("chat server", () => {
  it("POST /api/chat {message} answers {response, conversationId, model, usage}; conversationId continues it", async () => {
    upstreams.fakes.beta.setDefault({ kind: "ok", content: "hello from beta" });
    const first = await call("POST", "/api/chat", { token: user.token, body: { message: "hi there" } });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({
      response: "hello from beta",
      conversationId: expect.any(String),
      provider: "beta",
      model: expect.any(String),
      finishReason: "stop",
      usage: { promptTokens: expect.any(Number), completionTokens: expect.any(Number), totalTokens: expect.any(Number) },
    });
    expect(first.headers.get("cache-control")).toBe("no-store");
    const second = await call("POST", "/api/chat", { token: user.token, body: { message: "and again", conversationId: first.body.conversationId } });
    expect(second.body.conversationId).toBe(first.body.conversationId);
    // The earlier turn went upstream as context.
    const sent = upstreams.fakes.beta.requests.at(-1)!.body.messages!.map((m) => m.content);
    expect(sent).toEqual(["hi there", "hello from beta", "and again"]);
  });

  it("passes `model` through to the provider", async () => {
    const res = await call("POST", "/api/chat", { token: user.token, body: { message: "which model?", model: "beta-large" } });
    expect(res.status, res.text).toBe(200);
    expect(upstreams.fakes.beta.requests.at(-1)!.body.model).toBe("beta-large");
  });

  it("refuses the anonymous (401), bad bodies (400) and never answers HTML", async () => {
    const anonymous = await call("POST", "/api/chat", { body: { message: "hi" } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe("UNAUTHORIZED");
    for (const body of [{}, { message: "" }, { message: 42 }, { message: "hi", conversationId: "nope" }, [1, 2]]) {
      const res = await call("POST", "/api/chat", { token: user.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("BAD_REQUEST");
    }
    const notJson = await call("POST", "/api/chat", { token: user.token, headers: json, body: undefined });
    expect(notJson.status).toBe(400);
  });

  it("POST /api/chat/stream streams chat_start, chat_delta {content}… and chat_complete {usage, finishReason}", async () => {
    upstreams.fakes.beta.setDefault({ kind: "ok", content: "one two three" });
    const res = await fetch(`${t.url}/api/chat/stream`, { method: "POST", headers: { ...json, ...auth(user.token) }, body: JSON.stringify({ message: "count" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await sseEvents(res);
    expect(events[0]).toMatchObject({ type: "chat_start", conversationId: expect.any(String), provider: "beta" });
    const deltas = events.filter((e) => e.type === "chat_delta");
    expect(deltas.map((e) => e["content"]).join("")).toBe("one two three");
    expect(events.at(-1)).toMatchObject({
      type: "chat_complete",
      content: "one two three",
      finishReason: "stop",
      usage: { totalTokens: expect.any(Number) },
    });
  });

  it("POST /api/chat/stream refusals keep their HTTP status", async () => {
    const res = await fetch(`${t.url}/api/chat/stream`, { method: "POST", headers: json, body: JSON.stringify({ message: "count" }) });
    expect(res.status).toBe(401);
    const bad = await fetch(`${t.url}/api/chat/stream`, { method: "POST", headers: { ...json, ...auth(user.token) }, body: JSON.stringify({ message: "" }) });
    expect(bad.status).toBe(400);
  });

  it("GET /api/models lists the active providers' models", async () => {
    const res = await call("GET", "/api/models", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.models.map((m: { provider: string }) => m.provider)).toEqual(["beta", "deepseek", "template"]);
    expect(res.body.models[0]).toMatchObject({ id: expect.any(String), name: expect.any(String) });
    expect((await call("GET", "/api/models")).status).toBe(401);
  });

  it("POST /api/save-conversation imports a client-held conversation and returns its id", async () => {
    const messages = [
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: "4" },
      { role: "user", content: "And 3+3?" },
      { role: "assistant", content: "6" },
    ];
    const res = await call("POST", "/api/save-conversation", { token: user.token, body: { title: "Arithmetic", messages } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ success: true, id: expect.any(String), conversationId: res.body.id, title: "Arithmetic", messageCount: 4 });
    const stored = await t.client(user.token).chat.conversations.get.query({ id: res.body.id });
    expect(stored.messages.map((m) => [m.role, m.content])).toEqual(messages.map((m) => [m.role, m.content]));
    // Another user cannot see it; the owner can continue it.
    const other = await t.userWithRole("USER");
    await expect(t.client(other.token).chat.conversations.get.query({ id: res.body.id })).rejects.toThrow(/not found/);
    const next = await call("POST", "/api/chat", { token: user.token, body: { message: "And 4+4?", conversationId: res.body.id } });
    expect(next.status).toBe(200);
    expect(upstreams.fakes.beta.requests.at(-1)!.body.messages!.map((m) => m.content)).toEqual([...messages.map((m) => m.content), "And 4+4?"]);

    const untitled = await call("POST", "/api/save-conversation", { token: user.token, body: { messages: [{ role: "user", content: "no title here" }] } });
    expect(untitled.body.title).toBe("no title here");
    // The first user message names it, not a system prompt before it; with no user message at all,
    // a neutral name rather than the system prompt's text.
    const system = { role: "system", content: "You are a terse assistant." };
    const afterSystem = await call("POST", "/api/save-conversation", { token: user.token, body: { messages: [system, { role: "user", content: "Why is the sky blue?" }] } });
    expect(afterSystem.body.title).toBe("Why is the sky blue?");
    const systemOnly = await call("POST", "/api/save-conversation", { token: user.token, body: { messages: [system] } });
    expect(systemOnly.status, systemOnly.text).toBe(200);
    expect(systemOnly.body.title).toBe("Imported conversation");
    for (const body of [{ messages: [] }, { messages: [{ role: "wizard", content: "x" }] }, { title: 5, messages: [{ role: "user", content: "x" }] }, {}]) {
      expect((await call("POST", "/api/save-conversation", { token: user.token, body })).status, JSON.stringify(body)).toBe(400);
    }
    expect((await call("POST", "/api/save-conversation", { body: { messages } })).status).toBe(401);
  });
});

describe("consensus server", () => {
  it("POST /api/consensus/query {prompt} answers the agreed text and each model's answer", async () => {
    upstreams.fakes.beta.setDefault({ kind: "ok", content: "Paris" });
    upstreams.fakes.deepseek.setDefault({ kind: "ok", content: "Paris" });
    const res = await call("POST", "/api/consensus/query", { token: user.token, body: { prompt: "Capital of France?" } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ consensus: "Paris", answer: "Paris", strategy: "majority", winner: { content: "Paris" } });
    const old = await call("POST", "/api/consensus/query", { token: user.token, body: { query: "Capital of France?", models: ["beta", "deepseek"] } });
    expect(old.status, old.text).toBe(200);
    expect(old.body.consensus).toBe("Paris");
    expect((await call("POST", "/api/consensus/query", { token: user.token, body: { prompt: "" } })).status).toBe(400);
    // A null strategy is refused as consensus.query refuses it; only a missing one means majority.
    const nullStrategy = await call("POST", "/api/consensus/query", { token: user.token, body: { prompt: "Capital of France?", strategy: null } });
    expect(nullStrategy.status, nullStrategy.text).toBe(400);
    expect(nullStrategy.body.error.issues.fieldErrors.strategy).toEqual(["Unknown strategy null; expected one of majority, medoid, synthesize"]);
    const trpcNull = await call("POST", "/trpc/consensus.query", { token: user.token, body: { prompt: "Capital of France?", strategy: null } });
    expect(trpcNull.status).toBe(400);
    expect(trpcNull.body.error.data.zodError.fieldErrors.strategy).toEqual(nullStrategy.body.error.issues.fieldErrors.strategy);
    expect((await call("POST", "/api/consensus/query", { body: { prompt: "x" } })).status).toBe(401);
  });

  it("GET /api/consensus/models and /api/consensus/health", async () => {
    const models = await call("GET", "/api/consensus/models", { token: user.token });
    expect(models.status).toBe(200);
    expect(models.body.strategies).toContain("majority");
    expect(models.body.models.map((m: { provider: string }) => m.provider)).toContain("beta");
    const health = await call("GET", "/api/consensus/health", { token: user.token });
    expect(health.body).toMatchObject({ status: "ok", providers: ["beta", "deepseek"] });
  });
});

describe("status routes", () => {
  it("GET /api/health and /api/info are public", async () => {
    const health = await call("GET", "/api/health");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", uptime: expect.any(Number), version: expect.any(String) });
    const info = await call("GET", "/api/info");
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ name: "Switchboard", version: expect.any(String), providers: ["beta", "deepseek", "template"] });
    expect(info.body.features).toEqual(expect.arrayContaining(["chat", "consensus", "websocket"]));
  });

  it("GET /api/stats is ADMIN: active connections and streams, uptime, requests", async () => {
    expect((await call("GET", "/api/stats")).status).toBe(401);
    expect((await call("GET", "/api/stats", { token: user.token })).status).toBe(403);
    const res = await call("GET", "/api/stats", { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      activeConnections: expect.any(Number),
      activeStreams: expect.any(Number),
      uptime: expect.any(Number),
      requests: { total: expect.any(Number), errors: expect.any(Number) },
    });
    expect(res.body.activeConnections).toBeGreaterThanOrEqual(1);
  });

  it("GET /api/metrics is ADMIN and has the beta gateway's shape", async () => {
    await call("POST", "/api/chat", { token: user.token, body: { message: "count me" } });
    expect((await call("GET", "/api/metrics", { token: user.token })).status).toBe(403);
    const res = await call("GET", "/api/metrics", { token: admin.token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(expect.arrayContaining(["ai.beta", "ai.deepseek"]));
    expect(Object.keys(res.body["ai.beta"]).sort()).toEqual(["avgTime", "calls", "failures", "successRate", "successes", "totalTime"]);
    expect(res.body["ai.beta"].calls).toBeGreaterThanOrEqual(1);
  });
});

describe("auth server", () => {
  it("GET /auth/verify answers the user for a token or the session cookie, 401 otherwise", async () => {
    const ok = await call("GET", "/auth/verify", { token: user.token });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ valid: true, user: { id: user.id, email: user.email, role: "USER" } });
    const cookie = await call("GET", "/auth/verify", { headers: { cookie: `sb_access=${user.token}` } });
    expect(cookie.body.user.id).toBe(user.id);
    const none = await call("GET", "/auth/verify");
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toMatch(/json/);
    expect((await call("GET", "/auth/verify", { token: "garbage" })).status).toBe(401);
  });

  it("POST /auth/logout revokes the session and clears the cookies", async () => {
    const signedIn = await t.client().auth.login.mutate({ email: admin.email, password: "a-long-enough-password" });
    const res = await call("POST", "/auth/logout", { token: signedIn.accessToken, body: { refreshToken: signedIn.refreshToken } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ success: true, ok: true });
    expect(res.headers.getSetCookie().join(";")).toMatch(/sb_access=;/);
    expect((await call("GET", "/auth/verify", { token: signedIn.accessToken })).status).toBe(401);
    await expect(t.client().auth.refresh.mutate({ refreshToken: signedIn.refreshToken })).rejects.toThrow();
    // Its session ended: the same refresh token no longer stands for a caller.
    expect((await call("POST", "/auth/logout", { body: { refreshToken: signedIn.refreshToken } })).status).toBe(401);
  });

  it("POST /auth/logout needs a caller: 401 with no credential at all; a refresh token alone revokes its session", async () => {
    const none = await call("POST", "/auth/logout");
    expect(none.status).toBe(401);
    expect((await call("POST", "/auth/logout", { token: "garbage" })).status).toBe(401);
    expect((await call("POST", "/auth/logout", { body: { refreshToken: "not-a-refresh-token" } })).status).toBe(401);
    const signedIn = await t.client().auth.login.mutate({ email: admin.email, password: "a-long-enough-password" });
    const byRefresh = await call("POST", "/auth/logout", { body: { refreshToken: signedIn.refreshToken } });
    expect(byRefresh.status, byRefresh.text).toBe(200);
    await expect(t.client().auth.refresh.mutate({ refreshToken: signedIn.refreshToken })).rejects.toThrow();
    // Its session ended: the same refresh token no longer stands for a caller.
    expect((await call("POST", "/auth/logout", { body: { refreshToken: signedIn.refreshToken } })).status).toBe(401);
  });
});

describe("freeze", () => {
  it("the legacy gateway routes answer 503 EMERGENCY_STOP; /api/health and /auth/verify keep answering", async () => {
    const rootClient = t.client(root);
    await rootClient.emergency.freeze.mutate({ reason: "legacy drill" });
    try {
      const chat = await call("POST", "/api/chat", { token: user.token, body: { message: "hi" } });
      expect(chat.status).toBe(503);
      expect(chat.body.error).toMatchObject({ code: "EMERGENCY_STOP", reason: "legacy drill" });
      expect(chat.headers.get("retry-after")).toBeTruthy();
      const stream = await fetch(`${t.url}/api/chat/stream`, { method: "POST", headers: { ...json, ...auth(user.token) }, body: JSON.stringify({ message: "x" }) });
      expect(stream.status).toBe(503);
      await stream.body?.cancel();
      expect((await call("POST", "/api/consensus/query", { token: user.token, body: { prompt: "x" } })).status).toBe(503);
      expect((await call("GET", "/api/health")).status).toBe(200);
      expect((await call("GET", "/auth/verify", { token: user.token })).status).toBe(200);
    } finally {
      await rootClient.emergency.unfreeze.mutate({ reason: "drill over" });
    }
    expect((await call("POST", "/api/chat", { token: user.token, body: { message: "hi" } })).status).toBe(200);
  });
});

describe("no HTML where a client expects data", () => {
  it.each([
    ["GET", "/auth/github", "text/html"],
    ["GET", "/ws/nope", "text/html"],
    ["GET", "/api/nope", "text/html"],
    ["GET", "/v1/nope", "text/html"],
    ["GET", "/trpc", "text/html"],
    ["GET", "/some/page", "application/json"],
    ["POST", "/some/page", "text/html"],
  ])("%s %s (Accept: %s) is a JSON 404", async (method, path, accept) => {
    const res = await call(method, path, { headers: { accept } });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    // Every /v1 error is OpenAI-shaped; the rest answer in the REST shape.
    expect(res.body.error.code).toBe(path.startsWith("/v1/") ? "unknown_url" : "NOT_FOUND");
  });

  it("a request offering another protocol (Upgrade: h2c, as curl --http2 sends it) gets its answer, and its connection ends there", async () => {
    // Some routes answered with a bare-text 400 "Invalid Upgrade header" from the WebSocket
    // plugin; the others answered as keep-alive on a socket no HTTP parser read any more, so a
    // client's next request on that connection never got an answer.
    const h2c = { connection: "Upgrade, HTTP2-Settings", upgrade: "h2c", "http2-settings": "AAMAAABkAAQCAAAAAAIAAAAA" };
    for (const path of ["/api/info", "/api/health", "/auth/verify", "/v1/models", "/health"]) {
      const offered = await rawRequest(t.url, { path, headers: { ...h2c, ...auth(user.token) } });
      expect(offered.status, `${path}: ${offered.text}`).toBe(200);
      expect(offered.headers["content-type"], path).toMatch(/application\/json/);
      expect(offered.headers["x-request-id"], path).toEqual(expect.any(String));
      expect(offered.headers.connection, path).toBe("close");
      expect((await rawRequest(t.url, { path, headers: auth(user.token) })).status, path).toBe(200);
    }
  });

  it("a browser navigating to a client-side route gets the SPA page", async () => {
    const res = await call("GET", "/users/42", { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(res.status).toBe(200);
    expect(res.text).toContain("<title>admin</title>");
  });
});
