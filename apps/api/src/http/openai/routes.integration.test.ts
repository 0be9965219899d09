/**
 * The OpenAI-compatible endpoint driven by the official `openai` npm client, exactly as an
 * existing application would use it after changing only baseURL and apiKey; plus the raw
 * wire format (SSE ending in [DONE], error JSON) as curl sees it.
 */
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, RateLimitError } from "openai";
import { Agent, request } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { eventually } from "../../../test/chat.ts";

let t: TestApp;
let beta: FakeOpenAIServer;
let openai: FakeOpenAIServer;
let token: string;
let sdk: OpenAI;

beforeAll(async () => {
  [beta, openai] = await Promise.all([startFakeOpenAI({ name: "beta" }), startFakeOpenAI({ name: "openai" })]);
  t = await startTestApp({
    env: {
      BETA_MODEL_BASE_URL: beta.url,
      OPENAI_API_KEY: "sk-upstream",
      OPENAI_BASE_URL: openai.url,
      PROVIDER_ORDER: "beta,openai,template",
      CIRCUIT_FAILURE_THRESHOLD: "1000",
      CHAT_RATE_LIMIT_PER_MIN: "1000",
    },
  });
  token = (await t.userWithRole("USER")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([beta?.close(), openai?.close()]);
});
afterEach(() => {
  for (const fake of [beta, openai]) {
    fake.requests.length = 0;
    fake.setDefault({ kind: "ok" });
  }
});

const post = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
  fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("POST /v1/chat/completions with the openai SDK", () => {
  it("non-stream: a chat.completion with usage, through the fallback chain", async () => {
    beta.enqueue({ kind: "status", status: 500 });
    const { data, response } = await sdk.chat.completions
      .create({ model: "auto", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }] })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.choices[0]).toMatchObject({ index: 0, message: { role: "assistant", content: "Hello from openai." }, finish_reason: "stop" });
    expect(data.usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    expect(data.model).toBe("gpt-4o-mini");
    expect(response.headers.get("x-switchboard-provider")).toBe("openai");
    expect(response.headers.get("x-switchboard-attempts")).toBe("beta:http_error,openai:success");
    expect(openai.requests[0]?.body.messages).toEqual([{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }]);
  });

  it("stream: chunks that add up to the answer, with usage when asked", async () => {
    beta.enqueue({ kind: "ok", content: "streamed through the gateway" });
    const stream = await sdk.chat.completions.create({
      model: "beta",
      messages: [{ role: "user", content: "stream please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe("streamed through the gateway");
    expect(finish).toBe("stop");
    expect(usage).toEqual({ prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
  });

  it("pins a provider by id, by provider/model, or by its configured model name", async () => {
    await sdk.chat.completions.create({ model: "openai", messages: [{ role: "user", content: "a" }] });
    await sdk.chat.completions.create({ model: "openai/gpt-4.1", messages: [{ role: "user", content: "b" }] });
    await sdk.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "c" }] });
    expect(openai.requests.map((r) => r.body.model)).toEqual(["gpt-4o-mini", "gpt-4.1", "gpt-4o-mini"]);
    expect(beta.requests).toHaveLength(0);
  });

  it("a stream cut mid-answer raises in the SDK instead of ending cleanly", async () => {
    beta.enqueue({ kind: "cut", afterChunks: 2, content: "this answer is cut" });
    const stream = await sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "x" }], stream: true });
    let text = "";
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    expect(text).toBe("this answer ");
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toMatch(/stream broke after the first token/);
  });

  it("maps errors to the SDK's error classes", async () => {
    const bad = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "not-a-token", maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "x" }] })).rejects.toBeInstanceOf(AuthenticationError);
    await expect(sdk.chat.completions.create({ model: "gpt-9-ultra", messages: [{ role: "user", content: "x" }] })).rejects.toBeInstanceOf(NotFoundError);
    await expect(sdk.chat.completions.create({ model: "auto", messages: [] })).rejects.toBeInstanceOf(BadRequestError);
    // deepseek is not configured here, so no provider of that name exists.
    await expect(sdk.chat.completions.create({ model: "deepseek", messages: [{ role: "user", content: "x" }] })).rejects.toBeInstanceOf(NotFoundError);

    beta.enqueue({ kind: "status", status: 429, retryAfter: "1" });
    const limited = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(Number((limited as RateLimitError).headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});

describe("wire format", () => {
  it("SSE ends with data: [DONE]", async () => {
    const res = await post({ model: "auto", messages: [{ role: "user", content: "hi" }], stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = text.split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    expect(JSON.parse(events[0]!.slice(6)).choices[0].delta).toEqual({ role: "assistant", content: "" });
  });

  it("streams on one keep-alive connection each end with [DONE] inside their own response", async () => {
    // Node's strict HTTP parser on a reused socket: a byte written after a response's final
    // chunk (e.g. [DONE] flushed after the terminator) breaks the next response.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }], stream: true });
    const once = () =>
      new Promise<string>((resolve, reject) => {
        const req = request(`${t.url}/v1/chat/completions`, { method: "POST", agent, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve(text));
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body);
      });
    try {
      for (let i = 0; i < 3; i++) expect((await once()).endsWith("data: [DONE]\n\n")).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it("a client that disconnects mid-stream aborts the upstream request", async () => {
    // openai, not beta: an earlier test left beta inside a Retry-After window.
    openai.enqueue({ kind: "ok", content: Array.from({ length: 500 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 10 });
    const controller = new AbortController();
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: "openai", stream: true, messages: [{ role: "user", content: "long" }] }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const aborted = await openai.waitForAbort(0);
    expect(aborted.completed).toBe(false);
  });

  it("a client that leaves while waiting for a whole completion aborts the upstream request", async () => {
    const index = openai.requests.length;
    let release = () => {};
    openai.enqueue({ kind: "wait", until: new Promise<void>((resolve) => (release = resolve)) });
    const controller = new AbortController();
    const pending = fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: "openai", messages: [{ role: "user", content: "take your time" }] }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await openai.waitForRequests(index + 1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    const aborted = await openai.waitForAbort(index);
    expect(aborted.completed).toBe(false);
    release();
  });

  it("a failure before the first token is a real status with OpenAI's error JSON, not a 200 stream", async () => {
    openai.enqueue({ kind: "status", status: 500 });
    const res = await post({ model: "openai", messages: [{ role: "user", content: "hi" }], stream: true });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ error: { message: expect.stringMatching(/No provider could answer/), type: "api_error", code: "upstream_error", param: null } });
  });

  it("bad bodies are 400/413 in OpenAI's shape; a missing token is 401", async () => {
    const cases: Array<[unknown, number]> = [
      [{ messages: [{ role: "user", content: "no model" }] }, 400],
      [{ model: "auto", messages: [{ role: "wizard", content: "x" }] }, 400],
      [{ model: "auto", messages: [{ role: "tool", content: "x" }] }, 400],
      [{ model: "auto", messages: [] }, 400],
      [{ model: "auto", messages: [{ role: "user", content: "x".repeat(300_000) }] }, 413],
      [{ model: "auto", messages: [{ role: "user", content: "x".repeat(1_100_000) }] }, 413],
    ];
    for (const [body, status] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      const json = (await res.json()) as { error: unknown };
      expect(json.error).toMatchObject({ message: expect.any(String), type: "invalid_request_error" });
    }
    const raw = await fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: "{not json" });
    expect(raw.status).toBe(400);
    const anonymous = await post({ model: "auto", messages: [{ role: "user", content: "x" }] }, {});
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
  });

  it("GET /v1/models lists auto and each active provider", async () => {
    const models = await sdk.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["auto", "beta", "beta/beta", "openai", "openai/gpt-4o-mini", "template", "template/switchboard-template-1"]);
    expect((await fetch(`${t.url}/v1/models`)).status).toBe(401);
  });

  it("lists every model a provider is configured with, and a bare name of any of them reaches that provider with that model", async () => {
    const root = t.client(await t.login());
    await root.providers.create.mutate({ name: "multi", kind: "openai-compatible", baseUrl: beta.url, apiKey: "sk-multi-0123456789", models: ["small-1", "large-2"] });
    try {
      await eventually(async () => ((await sdk.models.list()).data.some((m) => m.id === "multi/large-2") ? true : undefined), "the new provider's models");
      const ids = (await sdk.models.list()).data.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining(["multi", "multi/small-1", "multi/large-2"]));
      const answer = await sdk.chat.completions.create({ model: "large-2", messages: [{ role: "user", content: "hi" }] });
      expect(answer.choices[0]!.message.content).toEqual(expect.any(String));
      expect(beta.requests.at(-1)!.body.model).toBe("large-2");
    } finally {
      const { items } = await root.providers.list.query();
      const multi = items.find((p) => p.name === "multi");
      if (multi) await root.providers.delete.mutate({ id: multi.id });
    }
  });
});
