/**
 * The server's close does not wait for connections a client opened and never used: after a
 * fetch aborted mid-request (undici reconnects at once and holds the new socket for the
 * advertised keep-alive time, 72 s) and with a raw socket connected that sends nothing, the
 * Fastify close the test helper and SIGTERM both go through ends at once. The aborted request
 * aborts its upstream call, an upstream that would otherwise never answer.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { bearer } from "../../test/http.ts";

/** Generous against the 70 s the close took; a prompt close takes milliseconds. */
const PROMPT_CLOSE_MS = 20_000;

let upstream: FakeOpenAIServer;
let t: TestApp;

beforeAll(async () => {
  upstream = await startFakeOpenAI({ name: "beta", defaultBehavior: { kind: "wait", until: new Promise(() => {}) } });
  t = await startTestApp({ mode: "embedded", env: { BETA_MODEL_BASE_URL: upstream.url, PROVIDER_ORDER: "beta" } });
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

it("a close after an aborted fetch and with a silent socket open ends at once", async () => {
  const token = await t.login();
  const controller = new AbortController();
  const sent = fetch(`${t.url}/v1/chat/completions`, {
    method: "POST",
    signal: controller.signal,
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hello" }] }),
  }).catch((error: unknown) => error);
  await upstream.waitForRequests(1);
  controller.abort();
  expect(await sent).toMatchObject({ name: "AbortError" });
  await upstream.waitForAbort(0);

  const { hostname, port } = new URL(t.url);
  const silent = connect(Number(port), hostname).on("error", () => {});
  await new Promise((resolve) => silent.once("connect", resolve));

  const tooLate = new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), PROMPT_CLOSE_MS).unref());
  expect(await Promise.race([t.server.close().then(() => "closed"), tooLate])).toBe("closed");
  silent.destroy();
}, 60_000);
