/**
 * /v1 streams that wait long for their first token (a reasoning model thinking) or go quiet
 * between tokens: after the heartbeat interval (100 ms here) the response is committed and
 * `: keep-alive` comments keep the connection talking, which the official openai SDK, the
 * Vercel AI SDK and LangChain JS all skip. A failure after a heartbeat, with no text yet, is an
 * error event like a break after text; a failure within the wait is still a real status.
 * Real local upstreams (OpenAI and Anthropic protocols) that hold their first chunk.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { ChatOpenAI } from "@langchain/openai";
import { streamText } from "ai";
import OpenAI, { APIError, InternalServerError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { startFakeAnthropic, type FakeAnthropicServer } from "../../../test/fake-anthropic-server.ts";
import { bearer, loggedRow } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

const HEARTBEAT_MS = 100;
/** Long enough for a few heartbeats before the first token. */
const THINKING_MS = 450;
const KEY = "sk-ant-good-key-000000";

let t: TestApp;
let up: Upstreams<"beta">;
let claude: FakeAnthropicServer;
let token: string;
let sdk: OpenAI;

beforeAll(async () => {
  [up, claude] = await Promise.all([startUpstreams(["beta"]), startFakeAnthropic({ apiKey: KEY })]);
  t = await startTestApp({
    env: { ...up.env, CIRCUIT_FAILURE_THRESHOLD: "1000", CHAT_RATE_LIMIT_PER_MIN: "1000" },
    appOptions: { sseHeartbeatMs: HEARTBEAT_MS, requestLogFlushMs: 50 },
  });
  const admin = t.client(await t.login());
  await admin.providers.create.mutate({ name: "claude", kind: "anthropic", baseUrl: claude.url, apiKey: KEY, models: ["claude-test"] });
  token = (await t.userWithRole("USER")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await up?.close();
  await claude?.close();
});
afterEach(() => up.reset());

const thinking = () => up.fakes.beta.setDefault({ kind: "slow", delayMs: THINKING_MS, content: "Thought it through." });
const post = (path: string, body: Record<string, unknown>) =>
  fetch(`${t.url}/v1/${path}`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify(body) });
const events = (text: string) => text.split("\n\n").filter(Boolean);

const logRow = (requestId: string) => loggedRow(t.url, token, requestId);

describe("a first token long in coming", () => {
  it("commits the stream with its headers and sends keep-alive comments until the first chunk", async () => {
    let answer!: () => void;
    up.fakes.beta.setDefault({ kind: "wait", until: new Promise<void>((resolve) => (answer = resolve)), content: "Thought it through." });
    // The head arrives while the upstream is still silent: nothing here releases it before.
    const res = await post("chat/completions", { model: "beta", messages: [{ role: "user", content: "think" }], stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("x-switchboard-overhead-ms")).not.toBeNull();
    expect(res.headers.get("x-ratelimit-limit-requests")).toBe("1000");
    // No provider has answered yet when the head goes out.
    expect(res.headers.get("x-switchboard-provider")).toBeNull();
    setTimeout(answer, THINKING_MS);
    const sent = events(await res.text());
    const firstData = sent.findIndex((e) => e.startsWith("data:"));
    expect(firstData).toBeGreaterThanOrEqual(2);
    expect(sent.slice(0, firstData).every((e) => e === ": keep-alive")).toBe(true);
    expect(sent.at(-1)).toBe("data: [DONE]");
  });

  it("Responses streams too: comments, then response.created and the rest", async () => {
    thinking();
    const res = await post("responses", { model: "beta", input: "think", stream: true });
    expect(res.status).toBe(200);
    const sent = events(await res.text());
    expect(sent[0]).toBe(": keep-alive");
    expect(sent.find((e) => !e.startsWith(":"))).toMatch(/^event: response\.created\n/);
    expect(sent.at(-1)).toMatch(/^event: response\.completed\n/);
  });

  it("the openai SDK reads through the comments, on chat completions and Responses", async () => {
    thinking();
    let text = "";
    for await (const chunk of await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "think" }], stream: true })) {
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe("Thought it through.");

    const types: string[] = [];
    for await (const event of await sdk.responses.create({ model: "beta", input: "think", stream: true })) types.push(event.type);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
  });

  it("the Vercel AI SDK streams through them (openai-compatible chat, and @ai-sdk/openai's Responses)", async () => {
    thinking();
    const chat = createOpenAICompatible({ name: "switchboard", baseURL: `${t.url}/v1`, apiKey: token }).chatModel("beta");
    expect(await streamText({ model: chat, prompt: "think" }).text).toBe("Thought it through.");
    const responses = createOpenAI({ baseURL: `${t.url}/v1`, apiKey: token })("beta");
    expect(await streamText({ model: responses, prompt: "think" }).text).toBe("Thought it through.");
  });

  it("LangChain JS streams through them, over chat completions and the Responses API", async () => {
    thinking();
    for (const useResponsesApi of [false, true]) {
      const model = new ChatOpenAI({ model: "beta", apiKey: token, configuration: { baseURL: `${t.url}/v1` }, maxRetries: 0, useResponsesApi });
      let text = "";
      for await (const chunk of await model.stream("think")) text += chunk.text;
      expect(text).toBe("Thought it through.");
    }
  });

  it("an Anthropic provider thinking long is streamed the same way", async () => {
    claude.enqueue({ kind: "slow", delayMs: THINKING_MS });
    const res = await post("chat/completions", { model: "claude", messages: [{ role: "user", content: "think" }], stream: true });
    const sent = events(await res.text());
    expect(sent[0]).toBe(": keep-alive");
    expect(sent.at(-1)).toBe("data: [DONE]");

    claude.enqueue({ kind: "slow", delayMs: THINKING_MS });
    let text = "";
    for await (const chunk of await sdk.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "think" }], stream: true })) {
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe("Hello from the fake Claude");
  });
});

describe("failures", () => {
  it("within the wait: still a real HTTP status", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    const res = await post("chat/completions", { model: "beta", messages: [{ role: "user", content: "x" }], stream: true });
    expect(res.status).toBe(502);
    await expect(sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "x" }], stream: true })).rejects.toBeInstanceOf(InternalServerError);
  });

  it("after a heartbeat, before any text: an error event without [DONE], logged with the quick failure's code", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500 });
    const quick = await post("chat/completions", { model: "beta", messages: [{ role: "user", content: "x" }], stream: true });
    const quickBody = (await quick.json()) as { error: { code: string; type: string } };

    up.fakes.beta.enqueue({ kind: "status", status: 500, delayMs: THINKING_MS });
    const res = await post("chat/completions", { model: "beta", messages: [{ role: "user", content: "x" }], stream: true });
    expect(res.status).toBe(200);
    const sent = events(await res.text());
    expect(sent[0]).toBe(": keep-alive");
    const last = sent.at(-1)!;
    expect(last.startsWith("data: ")).toBe(true);
    const failure = JSON.parse(last.slice(6)) as { error: { code: string; type: string; message: string } };
    expect(failure.error).toMatchObject({ code: quickBody.error.code, type: quickBody.error.type });
    expect(sent).not.toContain("data: [DONE]");

    const [quickRow, slowRow] = await Promise.all([logRow(quick.headers.get("x-request-id")!), logRow(res.headers.get("x-request-id")!)]);
    expect(quickRow).toMatchObject({ status: 502 });
    // As a stream broken after its text is: a 200 that streamed, with the failure's code.
    expect(slowRow).toMatchObject({ status: 200, stream: true, errorCode: quickRow["errorCode"] });
    expect(slowRow["errorCode"]).toBeTruthy();
  });

  it("after a heartbeat: the SDKs raise, as for a stream broken after its text", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500, delayMs: THINKING_MS });
    const chat = await sdk.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "x" }], stream: true });
    const chatFailure = await (async () => {
      for await (const _ of chat) void _;
    })().catch((e: unknown) => e);
    expect(chatFailure).toBeInstanceOf(APIError);

    up.fakes.beta.enqueue({ kind: "status", status: 500, delayMs: THINKING_MS });
    const responses = await sdk.responses.create({ model: "beta", input: "x", stream: true });
    const responsesFailure = await (async () => {
      for await (const _ of responses) void _;
    })().catch((e: unknown) => e);
    expect(responsesFailure).toBeInstanceOf(APIError);

    up.fakes.beta.enqueue({ kind: "status", status: 500, delayMs: THINKING_MS });
    const model = createOpenAICompatible({ name: "switchboard", baseURL: `${t.url}/v1`, apiKey: token }).chatModel("beta");
    const errors: unknown[] = [];
    const result = streamText({ model, prompt: "x", onError: ({ error }) => void errors.push(error) });
    await result.consumeStream();
    expect(errors).toHaveLength(1);
  });
});

describe("silence between tokens", () => {
  it("a comment goes out whenever the upstream pauses past the interval; the answer is whole", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "one two three", chunkDelayMs: 250 });
    const res = await post("chat/completions", { model: "beta", messages: [{ role: "user", content: "x" }], stream: true });
    const sent = events(await res.text());
    const firstData = sent.findIndex((e) => e.startsWith("data:"));
    expect(sent.slice(firstData).filter((e) => e === ": keep-alive").length).toBeGreaterThanOrEqual(2);
    const text = sent
      .filter((e) => e.startsWith("data: {"))
      .map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? "")
      .join("");
    expect(text).toBe("one two three");
    expect(sent.at(-1)).toBe("data: [DONE]");
  });
});
