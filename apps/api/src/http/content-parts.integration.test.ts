/**
 * Content parts per message and per request on the chat-shaped /v1 routes: one part past
 * either limit is a 400 in the route's own dialect naming the field and the limit, counted
 * before the body is validated (a body at the /v1 limit holds hundreds of thousands of tiny
 * parts, each costing the event loop); a body at both limits is served.
 */
import { OPENAI_LIMITS } from "@switchboard/schema";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer } from "../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";

const PER_MESSAGE = OPENAI_LIMITS.maxContentPartsPerMessage;
const PER_REQUEST = OPENAI_LIMITS.maxContentParts;

let up: Upstreams<"beta">;
let t: TestApp;
let token: string;

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  t = await startTestApp({ env: { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000" } });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...bearer(token) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const parts = (n: number, type = "text") => Array.from({ length: n }, () => ({ type, text: "a" }));
/** The part counts of `count` messages of `each` parts. */
const sizes = (count: number, each: number) => Array.from({ length: count }, () => each);

interface Route {
  path: string;
  /** A body whose messages hold these numbers of parts. */
  body: (partsPerMessage: number[]) => unknown;
  /** The field naming message `i`'s parts. */
  field: (i: number) => string;
  /** The route's refusal of that field, in its dialect. */
  refusal: (field: string, limit: string) => unknown;
}

const openAIRefusal = (param: string, limit: string) => ({
  error: { message: expect.stringMatching(new RegExp(`^${param.replaceAll(".", "\\.")}: .*\\(limit ${limit}`)), type: "invalid_request_error", param, code: "bad_request" },
});
const anthropicRefusal = (param: string, limit: string) => ({
  type: "error",
  error: { type: "invalid_request_error", message: expect.stringMatching(new RegExp(`^${param.replaceAll(".", "\\.")}: .*\\(limit ${limit}`)) },
  request_id: expect.any(String),
});
const anthropicBody = (extra: Record<string, unknown>) => (sizes: number[]) => ({ model: "beta", ...extra, messages: sizes.map((n) => ({ role: "user", content: parts(n) })) });

const ROUTES: Route[] = [
  {
    path: "/v1/chat/completions",
    body: (sizes) => ({ model: "beta", messages: sizes.map((n) => ({ role: "user", content: parts(n) })) }),
    field: (i) => `messages.${i}.content`,
    refusal: openAIRefusal,
  },
  {
    path: "/v1/responses",
    body: (sizes) => ({ model: "beta", input: sizes.map((n) => ({ role: "user", content: parts(n, "input_text") })) }),
    field: (i) => `input.${i}.content`,
    refusal: openAIRefusal,
  },
  { path: "/v1/messages", body: anthropicBody({ max_tokens: 16 }), field: (i) => `messages.${i}.content`, refusal: anthropicRefusal },
  { path: "/v1/messages/count_tokens", body: anthropicBody({}), field: (i) => `messages.${i}.content`, refusal: anthropicRefusal },
];

const FULL = PER_REQUEST / PER_MESSAGE;

describe.each(ROUTES)("content parts on $path", (route) => {
  it(`a message of ${PER_MESSAGE + 1} parts is a 400 naming it and the per-message limit; nothing reaches the provider`, async () => {
    const res = await post(route.path, route.body([1, PER_MESSAGE + 1]));
    expect(res.status).toBe(400);
    expect(res.body).toEqual(route.refusal(route.field(1), "1,000 per message"));
    expect(up.fakes.beta.requests).toHaveLength(0);
  });

  it(`${PER_REQUEST + 1} parts across the request are a 400 naming the message that passes the limit`, async () => {
    const res = await post(route.path, route.body([...sizes(FULL, PER_MESSAGE), 1]));
    expect(res.status).toBe(400);
    expect(res.body).toEqual(route.refusal(route.field(FULL), "10,000 across all messages"));
    expect(up.fakes.beta.requests).toHaveLength(0);
  });

  it(`a request at both limits (${FULL} messages of ${PER_MESSAGE} parts) is served`, async () => {
    const res = await post(route.path, route.body(sizes(FULL, PER_MESSAGE)));
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  });
});

describe("what else counts as content parts", () => {
  it("on /v1/messages, a tool_result's own blocks count with its message's", async () => {
    const turn = [
      { role: "user", content: "What is the weather?" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: parts(PER_MESSAGE) }, { type: "text", text: "and?" }] },
    ];
    const res = await post("/v1/messages", { model: "beta", max_tokens: 16, messages: turn });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(anthropicRefusal("messages.2.content", "1,000 per message"));
    expect(up.fakes.beta.requests).toHaveLength(0);
  });

  it("on /v1/messages, system blocks count toward the request's parts", async () => {
    const res = await post("/v1/messages", { model: "beta", max_tokens: 16, system: parts(1), messages: sizes(FULL, PER_MESSAGE).map((n) => ({ role: "user", content: parts(n) })) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(anthropicRefusal(`messages.${FULL - 1}.content`, "10,000 across all messages"));
  });

  it("on /v1/responses, a function_call_output's output parts count", async () => {
    const input = [
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{}" },
      { type: "function_call_output", call_id: "call_1", output: parts(PER_MESSAGE + 1, "input_text") },
    ];
    const res = await post("/v1/responses", { model: "beta", input });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(openAIRefusal("input.1.output", "1,000 per message"));
  });
});

describe("tool calls in an assistant message", () => {
  const calls = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `call_${i}`, type: "function", function: { name: "get_weather", arguments: "{}" } }));
  const conversation = (n: number) => [
    { role: "user", content: "What is the weather?" },
    { role: "assistant", content: null, tool_calls: calls(n) },
    { role: "tool", tool_call_id: "call_0", content: "sunny" },
  ];

  it(`more than ${OPENAI_LIMITS.maxToolCallsPerMessage} on /v1/chat/completions are a 400 naming the message's tool_calls; nothing reaches the provider`, async () => {
    const res = await post("/v1/chat/completions", { model: "beta", messages: conversation(OPENAI_LIMITS.maxToolCallsPerMessage + 1) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(openAIRefusal("messages.1.tool_calls", "1,000 per message"));
    expect(up.fakes.beta.requests).toHaveLength(0);
  });

  it(`${OPENAI_LIMITS.maxToolCallsPerMessage} are forwarded`, async () => {
    const res = await post("/v1/chat/completions", { model: "beta", messages: conversation(OPENAI_LIMITS.maxToolCallsPerMessage) });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  });
});
