/**
 * /v1 bodies that carry model input may be as large as OPENAI_MAX_BODY_MB (a phone photo as a
 * base64 data URL, a long agent history), reach the upstream intact, and are refused past it
 * in OpenAI's shape; every other route keeps 1 MB; bytes past each body's first MB draw on a
 * per-instance pool (http/body-limits.ts), for callers with a valid credential only.
 */
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer } from "../../../test/http.ts";
import { rawRequest } from "../../../test/raw-http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

const MB = 1024 * 1024;
const json = { "content-type": "application/json" };

let up: Upstreams<"beta">;
let t: TestApp;
let token: string;

/** A chat request of about `bytes` bytes: a question and a photo as a base64 data URL. */
function photoRequest(bytes: number) {
  const url = `data:image/jpeg;base64,${"/9j/4AAQSkZJRgABAQ".repeat(Math.ceil(bytes / 18)).slice(0, bytes)}`;
  const body = {
    model: "beta",
    messages: [{ role: "user" as const, content: [{ type: "image_url" as const, image_url: { url } }, { type: "text" as const, text: "What is in this photo?" }] }],
  };
  return { url, body };
}

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  t = await startTestApp({ env: { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000", REQUEST_LOG_BODIES: "true" } });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

describe("large /v1 bodies (default OPENAI_MAX_BODY_MB = 20)", () => {
  it("a 5 MB chat request with a photo reaches the upstream intact and answers 200; the log keeps its text, not the photo", async () => {
    const { url, body } = photoRequest(5 * MB);
    const sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
    const { data, response } = await sdk.chat.completions.create(body).withResponse();
    expect(data.choices[0]!.message.content).toEqual(expect.any(String));
    const sent = up.fakes.beta.requests[0]!.body.messages![0]!.content as unknown as Array<{ image_url?: { url: string } }>;
    expect(sent[0]!.image_url!.url).toBe(url);

    const requestId = response.headers.get("x-request-id")!;
    let row: { requestBody: string | null } | null = null;
    for (let i = 0; i < 100 && !row; i++) {
      row = await t.app.deps.db.prisma.requestLog.findFirst({ where: { requestId } });
      if (!row) await new Promise((r) => setTimeout(r, 50));
    }
    expect(row!.requestBody).toContain("What is in this photo?");
    expect(row!.requestBody).toContain(`data:image/jpeg;base64,[${url.length - "data:image/jpeg;base64,".length} characters elided]`);
  });

  it("a Responses request with a 5 MB input_image answers 200", async () => {
    const { url } = photoRequest(5 * MB);
    const res = await fetch(`${t.url}/v1/responses`, {
      method: "POST",
      headers: { ...json, ...bearer(token) },
      body: JSON.stringify({ model: "beta", input: [{ role: "user", content: [{ type: "input_image", image_url: url }, { type: "input_text", text: "Describe it" }] }] }),
    });
    expect(res.status).toBe(200);
    const sent = up.fakes.beta.requests[0]!.body.messages![0]!.content as unknown as Array<{ image_url?: { url: string } }>;
    expect(sent[0]!.image_url!.url).toBe(url);
  });

  it("a body under the setting is read whole (19 MB of non-JSON: 400), declared or chunked", async () => {
    for (const declareLength of [true, false]) {
      const res = await rawRequest(t.url, { method: "POST", path: "/v1/chat/completions", headers: { ...json, ...bearer(token) }, streamBytes: 19 * MB, declareLength });
      expect(res.status, `declareLength: ${declareLength}`).toBe(400);
      expect(JSON.parse(res.text).error).toMatchObject({ type: "invalid_request_error" });
    }
  });

  it("a body over the setting is a 413 in OpenAI's shape, declared or chunked, before it is read", async () => {
    for (const path of ["/v1/chat/completions", "/v1/responses", "/v1/embeddings"]) {
      const declared = await rawRequest(t.url, { method: "POST", path, headers: { ...json, ...bearer(token) }, streamBytes: 21 * MB });
      expect(declared.status, path).toBe(413);
      expect(declared.headers.connection, path).toBe("close");
      expect(JSON.parse(declared.text).error, path).toMatchObject({ type: "invalid_request_error", message: expect.any(String) });
      expect(declared.bytesSent, path).toBeLessThan(21 * MB);
    }
    // Chunked, the server reads up to the setting (20 MB) before it can refuse, and loopback's
    // socket buffers hold several MB more the client has written: an offer three times the
    // setting shows the rest was never asked for, however slowly the server got there.
    const chunked = await rawRequest(t.url, { method: "POST", path: "/v1/chat/completions", headers: { ...json, ...bearer(token) }, streamBytes: 64 * MB, declareLength: false });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.text).error).toMatchObject({ type: "invalid_request_error" });
    expect(chunked.bytesSent).toBeLessThan(64 * MB);
  });

  it("a body over 1 MB is read only for a valid credential: without one, 401 in OpenAI's shape before it is read", async () => {
    for (const headers of [json, { ...json, authorization: "Bearer not-a-token" }, { ...json, authorization: "Bearer sb-not-a-real-key" }]) {
      for (const declareLength of [true, false]) {
        const res = await rawRequest(t.url, { method: "POST", path: "/v1/chat/completions", headers, streamBytes: 10 * MB, declareLength });
        expect(res.status, JSON.stringify(headers)).toBe(401);
        expect(JSON.parse(res.text).error).toMatchObject({ code: "invalid_api_key" });
        expect(res.headers.connection).toBe("close");
        expect(res.bytesSent).toBeLessThan(10 * MB);
      }
    }
    expect(up.fakes.beta.requests).toHaveLength(0);
  });

  it("every other route keeps 1 MB: 2 MB to /trpc, a legacy chat route or an unknown /v1 path is 413", async () => {
    for (const path of ["/trpc/auth.login", "/api/chat", "/v1/no-such-route"]) {
      const declared = await rawRequest(t.url, { method: "POST", path, headers: { ...json, ...bearer(token) }, streamBytes: 2 * MB });
      expect(declared.status, path).toBe(413);
      const chunked = await rawRequest(t.url, { method: "POST", path, headers: { ...json, ...bearer(token) }, streamBytes: 2 * MB, declareLength: false });
      expect(chunked.status, path).toBe(413);
    }
  });
});

describe("OPENAI_MAX_BODY_MB = 2", () => {
  let small: TestApp;
  let smallToken: string;
  beforeAll(async () => {
    small = await startTestApp({ env: { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000", OPENAI_MAX_BODY_MB: "2" } });
    smallToken = (await small.userWithRole("USER")).token;
  });
  afterAll(async () => {
    await small?.close();
  });

  it("takes a 1.5 MB photo and refuses 3 MB, declared or chunked", async () => {
    const ok = await rawRequest(small.url, { method: "POST", path: "/v1/chat/completions", headers: { ...json, ...bearer(smallToken) }, body: JSON.stringify(photoRequest(1.5 * MB).body) });
    expect(ok.status).toBe(200);
    const declared = await rawRequest(small.url, { method: "POST", path: "/v1/chat/completions", headers: { ...json, ...bearer(smallToken) }, body: JSON.stringify(photoRequest(3 * MB).body) });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.text).error).toMatchObject({ type: "invalid_request_error" });
    const chunked = await rawRequest(small.url, { method: "POST", path: "/v1/chat/completions", headers: { ...json, ...bearer(smallToken) }, streamBytes: 3 * MB, declareLength: false });
    expect(chunked.status).toBe(413);
  });

  it("holds at most four full-size bodies' worth past the first MB at once, half of it per user: beyond, 429 for that user and 503 for others until one ends", async () => {
    let release!: () => void;
    up.fakes.beta.setDefault({ kind: "wait", until: new Promise((r) => (release = () => r(undefined))) });
    const [other, third] = [(await small.userWithRole("USER")).token, (await small.userWithRole("USER")).token];
    const send = (as: string) =>
      rawRequest(small.url, { method: "POST", path: "/v1/chat/completions", headers: { ...json, ...bearer(as) }, body: JSON.stringify(photoRequest(1.9 * MB).body) });
    // Each draws 0.9 MB of the 8 MB pool (4 × 2 MB) while its answer is awaited; a user's share
    // is 4 MB: four each for two users.
    const held = [...Array.from({ length: 4 }, () => send(smallToken)), ...Array.from({ length: 4 }, () => send(other))];
    await up.fakes.beta.waitForRequests(8);
    // A fifth of the first user's is past their share: theirs to wait for, a 429.
    const overShare = await send(smallToken);
    expect(overShare.status).toBe(429);
    expect(overShare.headers["retry-after"]).toBe("1");
    expect(JSON.parse(overShare.text).error).toMatchObject({ code: "rate_limit_exceeded", message: expect.stringContaining("large request bodies of yours") });
    // A third user finds the pool itself full (7.2 MB held): the server's, a 503.
    const refused = await send(third);
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(JSON.parse(refused.text).error).toMatchObject({ message: expect.stringContaining("large request bodies") });
    expect(up.fakes.beta.requests).toHaveLength(8);
    release();
    for (const res of await Promise.all(held)) expect(res.status).toBe(200);
    // Given back when each response closed, the shares too.
    up.fakes.beta.setDefault({ kind: "ok" });
    expect((await send(third)).status).toBe(200);
    expect((await Promise.all(Array.from({ length: 4 }, () => send(smallToken)))).map((res) => res.status)).toEqual([200, 200, 200, 200]);
  });

  it("a conversation continued by previous_response_id is bounded like a body: past the setting, 413 naming it, nothing sent upstream", async () => {
    const sdk = new OpenAI({ baseURL: `${small.url}/v1`, apiKey: smallToken, maxRetries: 0 });
    const photo = (text: string) => [{ role: "user" as const, content: [{ type: "input_image" as const, image_url: photoRequest(0.9 * MB).url, detail: "auto" as const }, { type: "input_text" as const, text }] }];
    // Each request carries one 0.9 MB photo, under the 2 MB setting; the conversation grows.
    const first = await sdk.responses.create({ model: "beta", input: photo("first") });
    const second = await sdk.responses.create({ model: "beta", input: photo("second"), previous_response_id: first.id });
    expect(up.fakes.beta.requests.at(-1)!.raw.length).toBeGreaterThan(1.8 * MB);
    // A third photo would make 2.7 MB of model input.
    const upstreamCalls = up.fakes.beta.requests.length;
    const refused = await sdk.responses.create({ model: "beta", input: photo("third"), previous_response_id: second.id }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 413, param: "previous_response_id" });
    expect((refused as Error).message).toContain("send it, trimmed, in input instead");
    // The same request sent chunked (no Content-Length) is the same size.
    const chunked = await rawRequest(small.url, {
      method: "POST",
      path: "/v1/responses",
      headers: { ...json, ...bearer(smallToken), "transfer-encoding": "chunked" },
      body: JSON.stringify({ model: "beta", input: photo("third"), previous_response_id: second.id }),
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.text).error).toMatchObject({ param: "previous_response_id" });
    expect(up.fakes.beta.requests).toHaveLength(upstreamCalls);
  });
});

describe("long agent histories (OPENAI_MAX_TEXT_CHARS)", () => {
  let long: TestApp;
  let longToken: string;
  beforeAll(async () => {
    long = await startTestApp({ env: { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000", OPENAI_MAX_TEXT_CHARS: "1000000" } });
    longToken = (await long.userWithRole("USER")).token;
  });
  afterAll(async () => {
    await long?.close();
  });
  const history = (chars: number) => [
    { role: "system" as const, content: "You are a coding agent." },
    { role: "user" as const, content: "x".repeat(chars) },
  ];

  it("raised, takes a long agent history (600,000 characters, ~150k tokens) that the default refuses", async () => {
    const sdk = new OpenAI({ baseURL: `${long.url}/v1`, apiKey: longToken, maxRetries: 0 });
    const answer = await sdk.chat.completions.create({ model: "beta", messages: history(600_000) });
    expect(answer.choices[0]?.message.content).toBe("Hello from beta.");
    expect(up.fakes.beta.requests.at(-1)!.body.messages?.[1]?.content).toHaveLength(600_000);
    const refused = await new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 }).chat.completions.create({ model: "beta", messages: history(600_000) }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 413, param: "messages" });
    expect((refused as Error).message).toContain("OPENAI_MAX_TEXT_CHARS");
  });

  it("past it, 413 says how much text there was and the limit; for a Responses request, naming input and the conversation it continues", async () => {
    const sdk = new OpenAI({ baseURL: `${long.url}/v1`, apiKey: longToken, maxRetries: 0 });
    const tooLong = await sdk.chat.completions.create({ model: "beta", messages: history(1_000_001) }).catch((e: unknown) => e);
    expect(tooLong).toMatchObject({ status: 413, param: "messages" });
    expect((tooLong as Error).message).toMatch(/1,000,024 characters of text.*limit 1,000,000/);
    const first = await sdk.responses.create({ model: "beta", input: "y".repeat(600_000) });
    const calls = up.fakes.beta.requests.length;
    const continued = await sdk.responses.create({ model: "beta", input: "z".repeat(500_000), previous_response_id: first.id }).catch((e: unknown) => e);
    expect(continued).toMatchObject({ status: 413, param: "input" });
    expect((continued as Error).message).toMatch(/^413 input, with the conversation of previous_response_id, holds 1,100,016 characters of text \(limit 1,000,000/);
    expect(up.fakes.beta.requests).toHaveLength(calls);
  });

  it("a conversation continued past 1,000 messages is a 400 that counts them, naming input rather than a field the caller never sent", async () => {
    const sdk = new OpenAI({ baseURL: `${long.url}/v1`, apiKey: longToken, maxRetries: 0 });
    const first = await sdk.responses.create({ model: "beta", input: Array.from({ length: 999 }, (_, i) => ({ role: "user" as const, content: `step ${i}` })) });
    const refused = await sdk.responses.create({ model: "beta", input: [{ role: "user", content: "one" }, { role: "user", content: "two" }], previous_response_id: first.id }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, param: "input" });
    expect((refused as Error).message).toBe("400 input, with the conversation of previous_response_id, holds 1,002 messages (limit 1,000): send the conversation, trimmed, in input instead");
  });
});
