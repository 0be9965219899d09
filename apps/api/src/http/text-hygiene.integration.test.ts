/**
 * NUL (U+0000) cannot be stored by PostgreSQL. Every string input is refused with a 400
 * naming the field, on every surface (tRPC query and mutation, batch, REST, OpenAI), before
 * anything is paid for or written; upstream text containing NUL is stored without it, so an
 * answer the user was shown is always kept.
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

describe("NUL from upstream is cleaned before it is stored", () => {
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
