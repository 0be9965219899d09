/**
 * Two Responses API details as OpenAI has them, driven by the official `openai` SDK and raw
 * HTTP against a local OpenAI-protocol upstream: `truncation` is echoed as asked, and at
 * "auto" a previous_response_id conversation past the gateway's text budget
 * (OPENAI_MAX_TEXT_CHARS, 1000 here) loses its oldest turns instead of being refused; and
 * `input` may be left out when previous_response_id or instructions give something to answer.
 */
import OpenAI, { BadRequestError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

const TEXT_BUDGET = 1000;

let t: TestApp;
let up: Upstreams<"beta">;
let token: string;
let sdk: OpenAI;

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  t = await startTestApp({ env: { ...up.env, OPENAI_MAX_TEXT_CHARS: String(TEXT_BUDGET), CHAT_RATE_LIMIT_PER_MIN: "1000" } });
  token = (await t.userWithRole("USER")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const post = (body: unknown) => fetch(`${t.url}/v1/responses`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify(body) });
/** What the provider was last sent: role and text of each message. */
const lastSent = () => up.fakes.beta.requests.at(-1)!.body.messages!.map((m) => ({ role: m.role, content: m.content }));
/** A user turn of about 300 characters: three fit the budget, four do not. */
const turn = (n: number) => `Turn ${n}: ${"x".repeat(290)}`;

/** A conversation of `turns` answered turns, each continuing the last; resolves with the last answer's id. */
async function conversation(turns: number): Promise<string> {
  up.fakes.beta.setDefault({ kind: "ok", content: "ok" });
  let previous: string | undefined;
  for (let n = 1; n <= turns; n++) previous = (await sdk.responses.create({ model: "beta", input: turn(n), ...(previous ? { previous_response_id: previous } : {}) })).id;
  return previous!;
}

describe("truncation", () => {
  it("is echoed as asked, streamed or not; disabled when not asked; anything else is a 400 naming it", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "ok" });
    expect((await sdk.responses.create({ model: "beta", input: "hi", truncation: "auto" })).truncation).toBe("auto");
    expect((await sdk.responses.create({ model: "beta", input: "hi" })).truncation).toBe("disabled");
    const events = [];
    for await (const event of await sdk.responses.create({ model: "beta", input: "hi", truncation: "auto", stream: true })) events.push(event);
    const completed = events.find((e) => e.type === "response.completed");
    expect(completed?.type === "response.completed" && completed.response.truncation).toBe("auto");

    const bad = await post({ model: "beta", input: "hi", truncation: "sometimes" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: "truncation", type: "invalid_request_error" } });
  });

  it("auto: a continued conversation past the text budget loses its oldest turns, whole, and is answered", async () => {
    const previous = await conversation(3);
    // Four turns of ~300 characters are over the 1000 a request may carry.
    await expect(sdk.responses.create({ model: "beta", input: turn(4), previous_response_id: previous })).rejects.toMatchObject({ status: 413 });

    const answer = await sdk.responses.create({ model: "beta", input: turn(4), instructions: "Be brief.", previous_response_id: previous, truncation: "auto" });
    expect(answer.status).toBe("completed");
    expect(answer.truncation).toBe("auto");
    const sent = lastSent();
    // The instructions stay first, then the newest turns that fit, each from its user message on.
    expect(sent[0]).toEqual({ role: "system", content: "Be brief." });
    expect(sent[1]).toEqual({ role: "user", content: turn(2) });
    expect(sent.slice(2)).toEqual([
      { role: "assistant", content: "ok" },
      { role: "user", content: turn(3) },
      { role: "assistant", content: "ok" },
      { role: "user", content: turn(4) },
    ]);

    // The answer continues as any other: the next turn drops one more.
    await sdk.responses.create({ model: "beta", input: turn(5), previous_response_id: answer.id, truncation: "auto" });
    expect(lastSent()[0]).toEqual({ role: "user", content: turn(3) });
  });

  it("auto never drops the request's own input: too much of it alone is still refused", async () => {
    const previous = await conversation(1);
    const res = await post({ model: "beta", input: "y".repeat(TEXT_BUDGET + 1), previous_response_id: previous, truncation: "auto" });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { param: "input" } });
  });
});

describe("input may be left out", () => {
  it("with previous_response_id: the conversation so far is answered again", async () => {
    const previous = await conversation(1);
    up.fakes.beta.enqueue({ kind: "ok", content: "again" });
    const answer = await sdk.responses.create({ model: "beta", previous_response_id: previous });
    expect(answer.output_text).toBe("again");
    expect(lastSent()).toEqual([
      { role: "user", content: turn(1) },
      { role: "assistant", content: "ok" },
    ]);
  });

  it("with instructions alone, raw HTTP and an empty input alike", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "A haiku." });
    const res = await post({ model: "beta", instructions: "Write a haiku." });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "completed", output: [{ type: "message", content: [{ text: "A haiku." }] }] });
    expect(lastSent()).toEqual([{ role: "system", content: "Write a haiku." }]);
    expect((await post({ model: "beta", instructions: "Write a haiku.", input: [] })).status).toBe(200);
  });

  it("with nothing to answer: a 400 naming input, as OpenAI's", async () => {
    const before = up.fakes.beta.requests.length;
    for (const body of [{ model: "beta" }, { model: "beta", input: [] }, { model: "beta", instructions: "" }]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error", param: "input", code: "missing_required_parameter" } });
    }
    await expect(sdk.responses.create({ model: "beta" })).rejects.toBeInstanceOf(BadRequestError);
    expect(up.fakes.beta.requests.length).toBe(before);
  });
});
