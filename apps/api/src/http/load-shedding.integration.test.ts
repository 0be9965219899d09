/**
 * MAX_IN_FLIGHT_REQUESTS on a real server: with the cap taken by requests waiting on the
 * upstream, new work is refused at once with 503 + Retry-After in the caller's dialect,
 * while health, metrics and the emergency stop keep answering; capacity comes back as soon
 * as the held requests finish. An instance that is stopping refuses new work the same way.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";

let t: TestApp;
let beta: FakeOpenAIServer;
let token: string;

beforeAll(async () => {
  beta = await startFakeOpenAI({ name: "beta" });
  t = await startTestApp({
    mode: "embedded",
    env: { BETA_MODEL_BASE_URL: beta.url, PROVIDER_ORDER: "beta,template", MAX_IN_FLIGHT_REQUESTS: "2", CHAT_RATE_LIMIT_PER_MIN: "1000" },
  });
  token = await t.login();
});
afterAll(async () => {
  await t?.close();
  await beta?.close();
});

const chat = (stream = false) =>
  fetch(`${t.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }], stream }),
  });

describe("load shedding", () => {
  it("refuses beyond the cap with 503 + Retry-After, keeps ops and emergency endpoints, recovers", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    beta.enqueue({ kind: "wait", until: held }, { kind: "wait", until: held });
    const first = [chat(), chat(true)];
    await beta.waitForRequests(2);

    const refused = await chat();
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = (await refused.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/overloaded/);

    const trpc = await fetch(`${t.url}/trpc/chat.providers`, { headers: { authorization: `Bearer ${token}` } });
    expect(trpc.status).toBe(503);
    expect(trpc.headers.get("retry-after")).toBe("1");

    for (const path of ["/health", "/metrics", "/api/admin/emergency/status", "/trpc/emergency.status"]) {
      expect((await fetch(`${t.url}${path}`)).status, path).toBe(200);
    }

    release();
    const answers = await Promise.all(first);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    await Promise.all(answers.map((r) => r.text()));
    expect((await chat()).status).toBe(200);
  });

  it("gives back the places of pipelined requests whose connection was reset before they were answered", async () => {
    // A stream first, then requests pipelined behind it on the same connection: Node runs
    // them but queues their answers behind the stream, and on Node 20 a reset connection
    // never closes a queued response. Their places must come back all the same.
    const socket = connect(Number(new URL(t.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const host = new URL(t.url).host;
    socket.write(`GET /trpc/emergency.watch HTTP/1.1\r\nHost: ${host}\r\n\r\n` + `GET /v1/models HTTP/1.1\r\nHost: ${host}\r\n\r\n`.repeat(2));
    await expect.poll(async () => (await fetch(`${t.url}/v1/models`)).status).toBe(503);
    socket.resetAndDestroy();
    await expect.poll(async () => (await fetch(`${t.url}/v1/models`)).status).toBe(401);
  });
});

describe("a stopping instance", () => {
  // Last: a stop cannot be undone.
  it("refuses new requests with 503 + Retry-After in the caller's dialect, and closes their connection; ops endpoints answer", async () => {
    t.app.deps.lifecycle.beginStop(60_000);

    const v1 = await chat();
    expect(v1.status).toBe(503);
    expect(v1.headers.get("retry-after")).toBe("1");
    expect(v1.headers.get("connection")).toBe("close");
    expect(((await v1.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: "api_error", message: expect.stringMatching(/shutting down/) });

    const trpc = await fetch(`${t.url}/trpc/chat.providers`, { headers: { authorization: `Bearer ${token}` } });
    expect(trpc.status).toBe(503);
    expect(trpc.headers.get("retry-after")).toBe("1");
    expect(((await trpc.json()) as { error: { data: { appCode: string } } }).error.data.appCode).toBe("SERVICE_UNAVAILABLE");

    for (const path of ["/health", "/metrics", "/trpc/emergency.status"]) expect((await fetch(`${t.url}${path}`)).status, path).toBe(200);
    const ready = await fetch(`${t.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "not_ready", stopping: true });
    // A batch that starts with an emergency procedure but carries others is refused like them.
    for (const batch of ["emergency.status,chat.providers", "emergency.status%2Cchat.providers"]) {
      const mixed = await fetch(`${t.url}/trpc/${batch}?batch=1`, { headers: { authorization: `Bearer ${token}` } });
      expect(mixed.status, batch).toBe(503);
    }
  });
});
