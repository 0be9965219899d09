/**
 * The rest of the OpenAI-compatible surface: /v1/models/{id}, /v1/embeddings through the
 * provider chain, OpenAI-shaped errors on every status (404, 405, 413), x-request-id,
 * x-ratelimit-* headers, x-should-retry during a freeze, and finishReason on the tRPC path.
 */
import OpenAI, { APIError, NotFoundError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, trpcMutation } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let t: TestApp;
let up: Upstreams<"beta" | "openai">;
let token: string;
let root: string;
let sdk: OpenAI;

beforeAll(async () => {
  up = await startUpstreams(["beta", "openai"]);
  t = await startTestApp({ env: { ...up.env, CIRCUIT_FAILURE_THRESHOLD: "1000", CHAT_RATE_LIMIT_PER_MIN: "50" } });
  token = (await t.userWithRole("USER")).token;
  root = await t.login();
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });

const openAIShape = { error: { message: expect.any(String), type: expect.any(String), param: expect.toSatisfy((p) => p === null || typeof p === "string"), code: expect.toSatisfy((c) => c === null || typeof c === "string") } };

describe("models", () => {
  it("GET /v1/models/{id} answers one model, slashes included; an unknown one is model_not_found", async () => {
    expect(await sdk.models.retrieve("auto")).toMatchObject({ id: "auto", object: "model", owned_by: "switchboard" });
    const res = await call("GET", "/v1/models/openai/gpt-4o-mini");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "openai/gpt-4o-mini", object: "model", owned_by: "openai" });
    const missing = (await sdk.models.retrieve("no-such-model").catch((e: unknown) => e)) as NotFoundError;
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.code).toBe("model_not_found");
    // Both refusals point at the list of the names that do exist, on the surface the client uses.
    const listHint = "does not exist; GET /v1/models lists the available ones";
    expect(missing.error).toEqual({ message: `The model 'no-such-model' ${listHint}`, type: "invalid_request_error", param: "model", code: "model_not_found" });
    const unknown = (await sdk.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as NotFoundError;
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.error).toEqual({ message: `The model 'no-such-model' ${listHint}`, type: "invalid_request_error", param: "model", code: "model_not_found" });
  });

  it("an API key limited to some models lists and answers only those, as it may call nothing else", async () => {
    const key = (await t.client(token).keys.create.mutate({ name: "two models", scopes: ["models", "chat"], models: ["beta", "gpt-4o-mini", "no-such-model"] })).key;
    const limited = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
    const listed = [];
    for await (const model of limited.models.list()) listed.push(model);
    // A bare model name a provider serves is listed as the key names it, under that provider.
    expect(listed.map((m) => [m.id, m.owned_by])).toEqual([
      ["beta", "beta"],
      ["gpt-4o-mini", "openai"],
    ]);
    expect(await limited.models.retrieve("gpt-4o-mini")).toMatchObject({ id: "gpt-4o-mini", owned_by: "openai" });
    const refused = (await limited.models.retrieve("auto").catch((e: unknown) => e)) as NotFoundError;
    expect(refused).toBeInstanceOf(NotFoundError);
    expect(refused.code).toBe("model_not_found");
    // Every model it lists is one it may call.
    for (const { id } of listed) expect((await limited.chat.completions.create({ model: id, messages: [{ role: "user", content: "hi" }] })).object).toBe("chat.completion");
  });

  it("an API key limited to embedding models lists a bare one only when a provider's configured models include it or a route is named so, never a misspelt name, and embeds with each", async () => {
    const models = ["text-embedding-3-small", "openai/text-embedding-3-large", "gpt-4o-mini", "gpt-4o-mnii", "house-embedder"];
    const key = (await t.client(token).keys.create.mutate({ name: "embedder", scopes: ["models", "embeddings"], models })).key;
    const limited = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
    const list = async () => {
      const listed: Array<[string, string]> = [];
      for await (const model of limited.models.list()) listed.push([model.id, model.owned_by]);
      return listed;
    };
    // Embeddings would try any bare name on each provider that offers them, the typo too: that is no sign it exists.
    expect(await list()).toEqual([
      ["openai/text-embedding-3-large", "openai"],
      ["gpt-4o-mini", "openai"],
    ]);
    for (const unknown of ["gpt-4o-mnii", "text-embedding-3-small"]) {
      const missing = (await limited.models.retrieve(unknown).catch((e: unknown) => e)) as NotFoundError;
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing.code).toBe("model_not_found");
    }

    // One of a provider's configured models is listed under it; a route under switchboard.
    const admin = t.client(root);
    const openai = (await admin.providers.list.query()).items.find((p) => p.name === "openai")!;
    await admin.providers.update.mutate({ id: openai.id, models: [...openai.models, "text-embedding-3-small"] });
    await admin.models.upsert.mutate({ name: "house-embedder", targets: [{ provider: "openai", upstreamModel: "text-embedding-3-large" }] });
    try {
      const listed = await list();
      expect(listed).toEqual([
        ["house-embedder", "switchboard"],
        ["text-embedding-3-small", "openai"],
        ["openai/text-embedding-3-large", "openai"],
        ["gpt-4o-mini", "openai"],
      ]);
      expect(await limited.models.retrieve("text-embedding-3-small")).toMatchObject({ id: "text-embedding-3-small", owned_by: "openai" });
      for (const [id] of listed) expect((await limited.embeddings.create({ model: id, input: "alpha" })).data).toHaveLength(1);
    } finally {
      await admin.models.delete.mutate({ name: "house-embedder" });
      await admin.providers.update.mutate({ id: openai.id, models: openai.models });
    }
  });
});

describe("embeddings", () => {
  it("through the first provider that offers them, with fallback, fields forwarded as sent", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500 });
    const { data, response } = await sdk.embeddings.create({ model: "text-embedding-3-small", input: ["alpha", "beta gamma"], dimensions: 3 }).withResponse();
    expect(data.data.map((d) => d.embedding)).toEqual([
      [1, 0.5, 0.5],
      [2, 1, 0.5],
    ]);
    expect(data.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(response.headers.get("x-switchboard-attempts")).toBe("beta:http_error,openai:success");
    expect(JSON.parse(up.fakes.openai.requests[0]!.raw)).toEqual({ model: "text-embedding-3-small", input: ["alpha", "beta gamma"], dimensions: 3, encoding_format: "base64" });
  });

  it("pins a provider with provider/model; bad input is a 400 with param; counted in metrics", async () => {
    const admin = (await t.userWithRole("ADMIN")).token;
    const before = await t.client(admin).metrics.summary.query();
    const pinned = await sdk.embeddings.create({ model: "openai/text-embedding-3-large", input: "one", encoding_format: "float" });
    expect(pinned.model).toBe("text-embedding-3-large");
    expect(up.fakes.beta.requests).toHaveLength(0);
    const after = await t.client(admin).metrics.summary.query();
    expect(after.ai["openai"]!.calls - before.ai["openai"]!.calls).toBe(1);

    const bad = await call("POST", "/v1/embeddings", { model: "text-embedding-3-small", input: [1.5, "x"] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("input");
    // A batch past OpenAI's 2,048 inputs (a RAG pipeline's whole corpus at once) is told the limit, not "Invalid input".
    const batch = await call("POST", "/v1/embeddings", { model: "text-embedding-3-small", input: Array.from({ length: 2049 }, () => "chunk") });
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({ error: { param: "input", message: expect.stringContaining("2048") } });
    // Past the 256,000 characters a request may carry: a 413 whose numbers read as the docs write them.
    const long = await call("POST", "/v1/embeddings", { model: "text-embedding-3-small", input: ["x".repeat(200_000), "y".repeat(56_001)] });
    expect(long.status).toBe(413);
    expect(await long.json()).toMatchObject({ error: { param: "input", message: "input is too long: 256,001 characters or tokens (limit 256,000)" } });
    expect(up.fakes.beta.requests).toHaveLength(0);
    const auto = await call("POST", "/v1/embeddings", { model: "auto", input: "x" });
    expect(auto.status).toBe(400);
    expect(await auto.json()).toMatchObject({ error: { param: "model", type: "invalid_request_error" } });
    // The offline template has no embeddings.
    const template = await call("POST", "/v1/embeddings", { model: "template/some-embedder", input: "x" });
    expect(template.status).toBe(502);
    expect(await template.json()).toMatchObject({ error: { message: "No active provider offers embeddings", type: "api_error" } });
  });

  it("a provider freeze takes that provider out of embeddings", async () => {
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "beta leaks", scope: "provider:beta" }, bearer(root))).status).toBe(200);
    try {
      const result = await sdk.embeddings.create({ model: "text-embedding-3-small", input: "x" }).withResponse();
      expect(result.response.headers.get("x-switchboard-attempts")).toBe("beta:skipped_frozen,openai:success");
    } finally {
      await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root));
    }
  });
});

describe("errors and headers", () => {
  it("every /v1 status is OpenAI-shaped: 404 unknown path, 405 wrong method, 413, 400 malformed JSON or URL, 401", async () => {
    const cases: Array<[Response, number, string | null]> = [
      // Refused by the router before any hook (Fastify answered these in its own shape).
      [await call("GET", "/v1/models/%ZZ"), 400, "bad_request"],
      [await call("GET", "/v1/models/%ED%A0%80"), 400, "bad_request"],
      [await call("GET", "/v1/nothing-here"), 404, "unknown_url"],
      [await call("POST", "/v1/completions", {}), 404, "unknown_url"],
      [await call("GET", "/v1/chat/completions"), 405, "method_not_allowed"],
      [await call("DELETE", "/v1/models"), 405, "method_not_allowed"],
      [await call("POST", "/v1/chat/completions", JSON.stringify({ model: "auto", messages: [{ role: "user", content: "x".repeat(1_100_000) }] })), 413, "payload_too_large"],
      [await call("POST", "/v1/chat/completions", "{not json"), 400, "bad_request"],
      [await call("POST", "/v1/embeddings", { model: "x", input: "y" }, { authorization: "Bearer nope" }), 401, "invalid_api_key"],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status, res.url).toBe(status);
      const body = await res.json();
      expect(body, res.url).toEqual(openAIShape);
      expect((body as { error: { code: string } }).error.code, res.url).toBe(code);
      expect(res.headers.get("x-request-id"), res.url).toEqual(expect.any(String));
    }
    expect((await call("GET", "/v1/chat/completions")).headers.get("allow")).toBe("POST");
  });

  it("x-request-id: a valid incoming one is kept, a hostile one replaced; on streams and tRPC too", async () => {
    const kept = await call("GET", "/v1/models", undefined, { "x-request-id": "trace-abc_123" });
    expect(kept.headers.get("x-request-id")).toBe("trace-abc_123");
    const replaced = await call("GET", "/v1/models", undefined, { "x-request-id": "bad id\twith spaces" });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const stream = await call("POST", "/v1/chat/completions", { model: "auto", stream: true, messages: [{ role: "user", content: "hi" }] }, { "x-request-id": "stream-1" });
    await stream.text();
    expect(stream.headers.get("x-request-id")).toBe("stream-1");
    expect((await fetch(`${t.url}/health`)).headers.get("x-request-id")).toEqual(expect.any(String));
  });

  it("x-ratelimit-* headers count down, streamed or not", async () => {
    const first = await call("POST", "/v1/chat/completions", { model: "auto", messages: [{ role: "user", content: "hi" }] });
    const second = await call("POST", "/v1/chat/completions", { model: "auto", stream: true, messages: [{ role: "user", content: "hi" }] });
    await second.text();
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("50");
    const remaining = Number(first.headers.get("x-ratelimit-remaining-requests"));
    expect(Number(second.headers.get("x-ratelimit-remaining-requests"))).toBe(remaining - 1);
    expect(first.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+s$/);
  });

  it("an API key's own limit: x-ratelimit-reset-requests says when its minute starts again, and its 429 carries the figures too", async () => {
    const key = (await t.client(token).keys.create.mutate({ name: "two a minute", rateLimitPerMin: 2 })).key;
    const ask = () => call("POST", "/v1/chat/completions", { model: "auto", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` });
    const first = await ask();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    // Not "0s": a client that trusts it would retry at once into a 429.
    expect(Number(/^(\d+)s$/.exec(first.headers.get("x-ratelimit-reset-requests") ?? "")?.[1])).toBeGreaterThan(50);
    expect((await ask()).status).toBe(200);
    const refused = await ask();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(refused.headers.get("x-ratelimit-reset-requests")).toBe(`${refused.headers.get("retry-after")}s`);
  });

  it("while frozen the SDK fails at once: 503 with x-should-retry false, despite Retry-After", async () => {
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "incident 42", expiresInSec: 600 }, bearer(root))).status).toBe(200);
    try {
      const retrying = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 2 });
      const failure = (await retrying.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as APIError;
      expect(failure).toBeInstanceOf(APIError);
      expect(failure.status).toBe(503);
      expect(failure.code).toBe("emergency_stop");
      expect(failure.headers?.get("x-should-retry")).toBe("false");
      expect(failure.headers?.get("retry-after")).toEqual(expect.any(String));
      // With retries on and a Retry-After of minutes, an SDK ignoring x-should-retry would
      // still be sleeping here (past the test's timeout).
      const res = await call("POST", "/v1/embeddings", { model: "x", input: "y" });
      expect(res.status).toBe(503);
      expect(res.headers.get("x-should-retry")).toBe("false");
    } finally {
      await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root));
    }
  });
});

describe("chat.send on the tRPC path", () => {
  it("exposes finishReason; a tool-call answer is a stored success", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "truncated", finishReason: "length" });
    const cut = await t.client(token).chat.send.mutate({ message: "long please" });
    expect(cut).toMatchObject({ content: "truncated", finishReason: "length", provider: "beta" });

    up.fakes.beta.enqueue({ kind: "ok", toolCalls: [{ id: "c1", name: "lookup", arguments: "{}" }] });
    const tool = await t.client(token).chat.send.mutate({ message: "use a tool" });
    expect(tool).toMatchObject({ content: "", finishReason: "tool_calls", provider: "beta" });
    expect(tool.attempts).toEqual([expect.objectContaining({ provider: "beta", outcome: "success" })]);
    const stored = await t.client(token).chat.conversations.get.query({ id: tool.conversationId });
    expect(stored.messages.at(-1)).toMatchObject({ role: "assistant", status: "complete", provider: "beta" });
  });
});
