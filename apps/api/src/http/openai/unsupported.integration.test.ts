/**
 * A request no provider of its model can serve (n > 1 where every provider is Anthropic's,
 * which returns one message per call) is the caller's 400 on /v1, in OpenAI's shape with the
 * field it names, never retried and never sent upstream; where any provider of the model can
 * serve it, the chain falls over to that one as before.
 */
import OpenAI, { BadRequestError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic, type FakeAnthropicServer } from "../../../test/fake-anthropic-server.ts";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

const CLAUDE_KEY = "sk-ant-good-key-000000";

let t: TestApp;
let up: Upstreams<"beta">;
let claude: FakeAnthropicServer;
let token: string;

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  claude = await startFakeAnthropic({ apiKey: CLAUDE_KEY });
  t = await startTestApp({ env: up.env });
  const admin = t.client(await t.login());
  await admin.providers.create.mutate({ name: "claude", kind: "anthropic", baseUrl: claude.url, apiKey: CLAUDE_KEY, models: ["claude-test"] });
  // The default chain is Anthropic's alone; another route falls back from it to beta.
  await admin.models.upsert.mutate({ name: "auto", targets: [{ provider: "claude", upstreamModel: "claude-test" }] });
  await admin.models.upsert.mutate({ name: "claude-then-beta", targets: [{ provider: "claude", upstreamModel: "claude-test" }, { provider: "beta", upstreamModel: "beta" }] });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await up?.close();
  await claude?.close();
});
afterEach(() => up.reset());

const post = (body: Record<string, unknown>) =>
  fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify(body) });
const hi = [{ role: "user", content: "hi" }];

describe("n > 1 with only an Anthropic provider", () => {
  it.each([
    ["the default chain", { model: "auto" }],
    ["the default chain, streamed", { model: "auto", stream: true }],
    ["the provider pinned", { model: "claude" }],
  ])("%s: 400 invalid_request_error naming n, not to be retried, nothing sent upstream", async (_label, request) => {
    const before = claude.requests.length;
    const res = await post({ ...request, n: 2, messages: hi });
    const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: "n", code: "unsupported_value" });
    expect(body.error.message).toBe("No provider for this model supports the request's n (claude: anthropic cannot return 2 choices (n > 1))");
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect(res.headers.get("retry-after")).toBeNull();
    expect(claude.requests.length).toBe(before);
  });

  it("the OpenAI SDK raises its BadRequestError at once, without retrying", async () => {
    let sent = 0;
    const counted: typeof fetch = (url, init) => {
      sent++;
      return fetch(url, init);
    };
    const sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 2, fetch: counted });
    const before = claude.requests.length;
    const started = Date.now();
    const error = await sdk.chat.completions.create({ model: "auto", n: 3, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe("n");
    // One request, no retry; and no waiting: the SDK's two retries would first sleep 0.5 s and
    // 1 s (less up to a quarter of each, its jitter), over 1.1 s in all.
    expect(sent).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(claude.requests.length).toBe(before);
  });

  it("n: 1 is still Anthropic's to answer", async () => {
    const res = await post({ model: "auto", n: 1, messages: hi });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("Hello from the fake Claude");
  });
});

describe("a route with a provider that serves n > 1", () => {
  it("falls over from Anthropic to it, streamed or not, with every choice", async () => {
    const before = claude.requests.length;
    up.fakes.beta.setDefault({ kind: "ok", content: "Answer", finishReason: "stop" });
    const res = await post({ model: "claude-then-beta", n: 2, messages: hi });
    const body = (await res.json()) as { choices: Array<{ index: number; message: { content: string } }> };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, "Answer"],
      [1, "Answer (choice 1)"],
    ]);
    expect(up.fakes.beta.requests.at(-1)?.body).toMatchObject({ n: 2 });

    const streamed = await post({ model: "claude-then-beta", n: 2, stream: true, messages: hi });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain(`"choices":[{"index":1,`);
    expect(claude.requests.length).toBe(before);
  });
});
