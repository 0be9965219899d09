/**
 * NUL (U+0000) and half a surrogate pair (`\ud800`) cannot be stored by PostgreSQL, and
 * input nested deeper than 128 levels cannot be taken by recursive code (forwarding it
 * upstream). Such input is refused with a 400 naming the field, on every surface (tRPC query
 * and mutation, batch, REST, OpenAI), before anything is paid for or written; upstream text
 * containing NUL is stored without it, so an answer the user was shown is always kept.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";

let t: TestApp;
let up: Upstreams<"beta">;
let root: string;

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  t = await startTestApp({ mode: "cluster", env: { ...up.env, PROVIDER_ORDER: "beta,deepseek,template", DEEPSEEK_API_KEY: "sk-test", DEEPSEEK_BASE_URL: up.fakes.beta.url } });
  root = await t.login();
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});

const fieldErrorsOf = (body: { error: { data: { zodError: { fieldErrors: Record<string, string[]> } } } }) =>
  body.error.data.zodError.fieldErrors;

describe("NUL in an input is a 400 naming the field", () => {
  it("chat.send {message} — and the upstream is never called", async () => {
    const before = up.fakes.beta.requests.length;
    const res = await trpcMutation(t.url, "chat.send", { message: "hello\u0000world" }, bearer(root));
    expect(res.status).toBe(400);
    expect(fieldErrorsOf(res.body).message?.[0]).toMatch(/NUL/);
    expect(up.fakes.beta.requests.length).toBe(before);
  });

  it("chat.send {model} and a nested field name", async () => {
    const res = await trpcMutation(t.url, "chat.send", { message: "hi", model: "gpt\u0000" }, bearer(root));
    expect(res.status).toBe(400);
    expect(fieldErrorsOf(res.body).model?.[0]).toMatch(/model must not contain the NUL character/);
  });

  it("a NUL in an object key", async () => {
    const res = await trpcMutation(t.url, "chat.send", { message: "hi", ["x\u0000"]: 1 }, bearer(root));
    expect(res.status).toBe(400);
  });

  it("emergency.freeze {reason} → 400, not 503, and nothing is frozen", async () => {
    const res = await trpcMutation(t.url, "emergency.freeze", { reason: "incident\u0000" }, bearer(root));
    expect(res.status).toBe(400);
    expect(fieldErrorsOf(res.body).reason?.[0]).toMatch(/NUL/);
    expect((await trpcQuery(t.url, "emergency.status")).body.result.data.active).toBe(false);
  });

  it("users.list {search} in a GET query", async () => {
    const res = await trpcQuery(t.url, "users.list", { search: "a\u0000" }, bearer(root));
    expect(res.status).toBe(400);
    expect(fieldErrorsOf(res.body).search?.[0]).toMatch(/NUL/);
  });

  it("consensus.query {prompt}", async () => {
    const res = await trpcMutation(t.url, "consensus.query", { prompt: "\u0000", strategy: "majority" }, bearer(root));
    expect(res.status).toBe(400);
  });

  it("inside a batch: the call with NUL is refused, the other one runs", async () => {
    const res = await fetch(`${t.url}/trpc/chat.providers,users.list?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(root) },
      body: JSON.stringify({ 0: undefined, 1: { search: "\u0000" } }),
    });
    const body = (await res.json()) as Array<{ error?: { data: { httpStatus: number } }; result?: unknown }>;
    expect(body[0]!.result).toBeDefined();
    expect(body[1]!.error!.data.httpStatus).toBe(400);
  });

  it("REST alias POST /api/admin/emergency/freeze {reason} → 400", async () => {
    const res = await fetch(`${t.url}/api/admin/emergency/freeze`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(root) },
      body: JSON.stringify({ reason: "x\u0000y" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/reason must not contain the NUL character/);
    expect((await trpcQuery(t.url, "emergency.status")).body.result.data.active).toBe(false);
  });

  it("POST /v1/chat/completions with NUL in a message → 400 in OpenAI's shape, upstream not called", async () => {
    const before = up.fakes.beta.requests.length;
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(root) },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "a\u0000b" }] }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/messages\.0\.content must not contain the NUL character/);
    expect(up.fakes.beta.requests.length).toBe(before);
  });

  it("a percent-encoded NUL in a REST query string → 400", async () => {
    const res = await fetch(`${t.url}/api/admin/emergency/status?x=%00`);
    expect(res.status).toBe(400);
  });
});

describe("input no handler can take is refused before anything is paid for or stored", () => {
  const upstreamCalls = () => up.fakes.beta.requests.length;
  const conversations = () => t.app.deps.db.prisma.conversation.count();
  const post = (path: string, body: string) =>
    fetch(`${t.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...bearer(root) }, body });
  const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

  it("a NUL behind 250 000 other values is still found: chat.send and /api/save-conversation → 400, nothing stored", async () => {
    const padding = `[${Array(250_000).fill(0).join(",")}]`;
    const [calls, stored] = [upstreamCalls(), await conversations()];
    const sent = await post("/trpc/chat.send", `{"message":"hi\\u0000there","padding":${padding}}`);
    expect(sent.status).toBe(400);
    expect(JSON.stringify(await sent.json())).toMatch(/message must not contain the NUL character/);
    const saved = await post("/api/save-conversation", `{"messages":[{"role":"user","content":"a\\u0000b"}],"padding":${padding}}`);
    expect(saved.status).toBe(400);
    expect(upstreamCalls()).toBe(calls);
    expect(await conversations()).toBe(stored);
  });

  it("half a surrogate pair is a 400 naming the field: chat.send {model} (no upstream call), /v1 content, a REST alias", async () => {
    const [calls, stored] = [upstreamCalls(), await conversations()];
    const sent = await post("/trpc/chat.send", '{"message":"hi","model":"gpt\\ud800"}');
    expect(sent.status).toBe(400);
    expect(fieldErrorsOf((await sent.json()) as Parameters<typeof fieldErrorsOf>[0]).model?.[0]).toMatch(/model is not valid Unicode text/);
    const v1 = await post("/v1/chat/completions", '{"model":"auto","messages":[{"role":"user","content":"x\\udfffy"}]}');
    expect(v1.status).toBe(400);
    expect(await v1.json()).toMatchObject({ error: { type: "invalid_request_error", param: "messages.0.content" } });
    const freeze = await post("/api/admin/emergency/freeze", '{"reason":"incident \\ud83d"}');
    expect(freeze.status).toBe(400);
    expect((await trpcQuery(t.url, "emergency.status")).body.result.data.active).toBe(false);
    expect(upstreamCalls()).toBe(calls);
    expect(await conversations()).toBe(stored);
    // A whole pair (an emoji written as escapes) is ordinary text.
    expect((await post("/trpc/chat.send", '{"message":"hi \\ud83d\\ude00"}')).status).toBe(200);
  });

  it("nesting deeper than 128 levels is a 400 on every surface, and no provider is blamed for it", async () => {
    const calls = upstreamCalls();
    const body = (extra: string) => `{"model":"auto","message":"hi","messages":[{"role":"user","content":"hi"}],"extra":${extra}}`;
    // Forwarded upstream, this failed in JSON.stringify as a connection error of every
    // provider in turn: a few requests opened every circuit for every caller.
    for (let i = 0; i < 4; i++) {
      const v1 = await post("/v1/chat/completions", body(nested(5_000)));
      expect(v1.status).toBe(400);
      expect(await v1.json()).toMatchObject({ error: { type: "invalid_request_error", param: "extra.0", message: expect.stringMatching(/nested more than 128 levels/) } });
    }
    expect((await post("/trpc/chat.send", body(nested(5_000)))).status).toBe(400);
    expect((await post("/api/chat", body(nested(5_000)))).status).toBe(400);
    expect(upstreamCalls()).toBe(calls);
    const providers = (await trpcQuery(t.url, "chat.providers", undefined, bearer(root))).body.result.data as Array<{ id: string; circuit: { consecutiveFailures: number } }>;
    expect(providers.filter((p) => p.circuit.consecutiveFailures > 0)).toEqual([]);
  });

  it("a body of 300 000 nested arrays (600 kB) is answered with a 400, and the server goes on serving", async () => {
    // Walking it used to copy every value's path: minutes of one core for one request.
    const res = await post("/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}],"extra":${nested(300_000)}}`);
    expect(res.status).toBe(400);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });

  it("nesting within the limit is forwarded as sent (a JSON schema 60 objects deep in a tool)", async () => {
    let schema: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 60; i++) schema = { type: "object", properties: { a: schema } };
    const tools = [{ type: "function", function: { name: "deep", parameters: schema } }];
    const res = await post("/v1/chat/completions", JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }], tools }));
    expect(res.status).toBe(200);
    expect(up.fakes.beta.requests.at(-1)!.body.tools).toEqual(tools);
  });
});

describe("NUL and half surrogate pairs from upstream are cleaned before they are stored", () => {
  it("a failed provider's error holding half a pair does not sink the answer the next one gave (it was a 500)", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 503, body: '{"error":{"message":"overloaded \\ud800 try later"}}' });
    const res = await trpcMutation(t.url, "chat.send", { message: "are you there?" }, bearer(root));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const stored = await trpcQuery(t.url, "chat.conversations.get", { id: res.body.result.data.conversationId }, bearer(root));
    const reply = stored.body.result.data.messages.find((m: { role: string }) => m.role === "assistant");
    expect(reply.attempts[0]).toMatchObject({ outcome: "http_error", error: expect.stringContaining("overloaded \ufffd try later") });
  });

  it("consensus.query: answers holding half a pair are stored with U+FFFD (it was a 500)", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "four \ud83d" });
    try {
      const res = await trpcMutation(t.url, "consensus.query", { prompt: "2+2?", strategy: "majority" }, bearer(root));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const run = await trpcQuery(t.url, "consensus.get", { id: res.body.result.data.id }, bearer(root));
      expect(run.body.result.data.answers.map((a: { content: string | null }) => a.content)).toContain("four \ufffd");
    } finally {
      up.reset();
    }
  });


  it("chat.send: the reply is answered and kept, minus the NUL", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "clean\u0000 answer" });
    const res = await trpcMutation(t.url, "chat.send", { message: "say something odd" }, bearer(root));
    expect(res.status).toBe(200);
    const { conversationId, content } = res.body.result.data;
    expect(content).toContain("clean");
    const stored = await trpcQuery(t.url, "chat.conversations.get", { id: conversationId }, bearer(root));
    expect(stored.status).toBe(200);
    const reply = stored.body.result.data.messages.find((m: { role: string }) => m.role === "assistant");
    expect(reply.content).toBe("clean answer");
  });

  it("consensus.query: answers with NUL are stored and readable in history", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "forty\u0000two" });
    try {
      const res = await trpcMutation(t.url, "consensus.query", { prompt: "answer?", strategy: "majority" }, bearer(root));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const run = await trpcQuery(t.url, "consensus.get", { id: res.body.result.data.id }, bearer(root));
      expect(run.status).toBe(200);
      expect(JSON.stringify(run.body)).not.toContain("\\u0000");
      expect(JSON.stringify(run.body)).toContain("fortytwo");
    } finally {
      up.reset();
    }
  });
});
