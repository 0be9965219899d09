/**
 * When every provider of a request refuses for a reason only an operator can clear (the
 * provider's key revoked, its account unpaid or out of quota), retrying cannot help: the
 * answer says so (x-should-retry: false), so the OpenAI SDK and LangChain fail at once
 * instead of calling again with back-off; an exhausted quota is OpenAI's own 429
 * `insufficient_quota`. A failure a retry may clear (a 500, a plain rate limit) says nothing
 * of the kind, and a provider that answers is still reached by fallback.
 */
import { ChatOpenAI } from "@langchain/openai";
import OpenAI, { APIError, RateLimitError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import type { FakeBehavior } from "../../../test/fake-openai-server.ts";
import { bearer } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let t: TestApp;
let up: Upstreams<"beta" | "openai">;
let token: string;

const refusedKey: FakeBehavior = {
  kind: "status",
  status: 401,
  body: JSON.stringify({ error: { message: "Incorrect API key provided", type: "invalid_request_error", param: null, code: "invalid_api_key" } }),
};
const noQuota: FakeBehavior = {
  kind: "status",
  status: 429,
  body: JSON.stringify({ error: { message: "You exceeded your current quota", type: "insufficient_quota", param: null, code: "insufficient_quota" } }),
};
const rateLimited: FakeBehavior = {
  kind: "status",
  status: 429,
  retryAfter: "3",
  body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } }),
};

beforeAll(async () => {
  up = await startUpstreams(["beta", "openai"]);
  // Every refusal is a circuit failure: a high threshold keeps both providers in the chain.
  t = await startTestApp({ env: { ...up.env, CIRCUIT_FAILURE_THRESHOLD: "1000" } });
  const admin = t.client(await t.login());
  await admin.models.upsert.mutate({ name: "paid", targets: [{ provider: "beta", upstreamModel: "beta" }, { provider: "openai", upstreamModel: "gpt-test" }] });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const calls = () => up.fakes.beta.requests.length + up.fakes.openai.requests.length;
const both = (behavior: FakeBehavior) => {
  up.fakes.beta.setDefault(behavior);
  up.fakes.openai.setDefault(behavior);
};
const post = (body: Record<string, unknown>) =>
  fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify(body) });
const hi = [{ role: "user" as const, content: "hi" }];
type ErrorBody = { error: { message: string; type: string; code: string | null } };

describe("every provider refusing the gateway's credentials", () => {
  it.each([
    ["whole", false],
    ["streamed", true],
  ])("%s: 502 with x-should-retry false, naming each provider's refusal", async (_label, stream) => {
    both(refusedKey);
    const res = await post({ model: "paid", messages: hi, stream });
    const body = (await res.json()) as ErrorBody;
    expect(res.status, JSON.stringify(body)).toBe(502);
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect(res.headers.get("retry-after")).toBeNull();
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).toContain("an operator must fix it");
    expect(body.error.message).toContain("beta: upstream answered 401: Incorrect API key provided");
    expect(body.error.message).toContain("openai: upstream answered 401");
    expect(calls()).toBe(2);
  });

  it("a 402 (billing) and a 403 (no access) count the same", async () => {
    up.fakes.beta.setDefault({ kind: "status", status: 402, body: JSON.stringify({ error: { message: "Insufficient credits", type: "billing_error" } }) });
    up.fakes.openai.setDefault({ kind: "status", status: 403, body: JSON.stringify({ error: { message: "Project has no access to model", type: "invalid_request_error" } }) });
    const res = await post({ model: "paid", messages: hi });
    expect(res.status).toBe(502);
    expect(res.headers.get("x-should-retry")).toBe("false");
  });

  it("the OpenAI SDK with retries on calls once and fails", async () => {
    both(refusedKey);
    const sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 2 });
    const error = await sdk.chat.completions.create({ model: "paid", messages: hi }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(502);
    // One request to the gateway: one call to each provider, no retries.
    expect(calls()).toBe(2);
  });

  it("a provider that accepts the request is still reached by fallback", async () => {
    up.fakes.beta.setDefault(refusedKey);
    up.fakes.openai.setDefault({ kind: "ok", content: "from openai" });
    const res = await post({ model: "paid", messages: hi });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("from openai");
  });

  it("one refusal beside a failure that may pass (a 500): 502 with nothing said against retrying", async () => {
    up.fakes.beta.setDefault(refusedKey);
    up.fakes.openai.setDefault({ kind: "status", status: 500 });
    const res = await post({ model: "paid", messages: hi });
    expect(res.status).toBe(502);
    expect(res.headers.get("x-should-retry")).toBeNull();
  });
});

describe("every provider out of quota", () => {
  it("429 insufficient_quota, not to be retried", async () => {
    both(noQuota);
    const res = await post({ model: "paid", messages: hi });
    const body = (await res.json()) as ErrorBody;
    expect(res.status, JSON.stringify(body)).toBe(429);
    expect(body.error.code).toBe("insufficient_quota");
    expect(body.error.message).toContain("out of quota");
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect(res.headers.get("retry-after")).toBeNull();
  });

  it("the OpenAI SDK and LangChain, retries on, fail after one call", async () => {
    both(noQuota);
    const sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 2 });
    const error = await sdk.chat.completions.create({ model: "paid", messages: hi }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).code).toBe("insufficient_quota");
    expect(calls()).toBe(2);

    up.reset();
    both(noQuota);
    const chat = new ChatOpenAI({ model: "paid", apiKey: token, configuration: { baseURL: `${t.url}/v1` }, maxRetries: 3 });
    await expect(chat.invoke("hi")).rejects.toThrow(/out of quota/);
    expect(calls()).toBe(2);
  });

  it("a plain rate limit stays one: 429 with the upstream's wait, retrying allowed", async () => {
    both(rateLimited);
    const res = await post({ model: "paid", messages: hi });
    const body = (await res.json()) as ErrorBody;
    expect(res.status).toBe(429);
    expect(body.error.code).not.toBe("insufficient_quota");
    expect(res.headers.get("retry-after")).toBe("3");
    expect(res.headers.get("x-should-retry")).toBeNull();
  });
});
