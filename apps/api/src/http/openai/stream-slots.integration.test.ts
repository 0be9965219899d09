/**
 * /v1/chat/completions with stream: true holds one of the user's STREAMS_PER_USER slots,
 * like every other long-lived stream: beyond the cap an OpenAI-shaped 429 with Retry-After,
 * and the slot comes back when the stream ends or the client goes away.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";

let t: TestApp;
let beta: FakeOpenAIServer;
let token: string;

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  t = await startTestApp({
    env: { BETA_MODEL_BASE_URL: beta.url, PROVIDER_ORDER: "beta,template", STREAMS_PER_USER: "1", CHAT_RATE_LIMIT_PER_MIN: "1000" },
  });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await beta?.close();
});

const stream = (signal?: AbortSignal) =>
  fetch(`${t.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: "beta", messages: [{ role: "user", content: "hold on" }], stream: true }),
    ...(signal ? { signal } : {}),
  });

/**
 * Retries, for up to 10 s, until the server has noticed the freed slot (release happens when
 * the socket closes); bounded in time rather than in tries, as each try is a whole request.
 */
async function streamOnceFree(): Promise<Response> {
  const deadline = Date.now() + 10_000;
  let res = await stream();
  while (res.status === 429 && Date.now() < deadline) {
    await res.text();
    await new Promise((r) => setTimeout(r, 20));
    res = await stream();
  }
  return res;
}

describe("POST /v1/chat/completions stream: true and STREAMS_PER_USER", () => {
  it("refuses a stream beyond the cap with 429 + Retry-After, and frees the slot on disconnect and on end", async () => {
    beta.setDefault({ kind: "stall", afterChunks: 1, content: "first words then silence" });
    const held = new AbortController();
    const first = await stream(held.signal);
    expect(first.status).toBe(200);
    // The first chunk arrived: the stream is open and holds the user's only slot.
    const reader = first.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("chat.completion.chunk");

    const refused = await stream();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await refused.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error.code).toBe("rate_limit_exceeded");
    expect(body.error.message).toMatch(/open streams/);

    // Non-streaming calls do not need a slot.
    beta.setDefault({ kind: "ok", content: "plain answer" });
    const plain = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: "beta", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(plain.status).toBe(200);

    // The client goes away: its slot is released.
    held.abort();
    await reader.cancel().catch(() => {});
    const next = await streamOnceFree();
    expect(next.status).toBe(200);
    expect(await next.text()).toContain("data: [DONE]");

    // That stream ended normally: the slot is free again.
    const after = await streamOnceFree();
    expect(after.status).toBe(200);
    expect(await after.text()).toContain("data: [DONE]");
  });
});
