/**
 * SIGTERM after clients aborted their chat completions, each with a real client against a
 * real server process and an upstream that never answers: every aborted request aborts its
 * upstream call, and the stop does not wait for what those clients leave behind. Undici's
 * fetch (Node's global fetch, and the `openai` SDK on it) opens a fresh connection at once
 * after an abort and keeps it, unused, for the keep-alive time the server advertised (72 s);
 * a raw socket that connects and sends nothing is the same thing held by hand.
 */
import { connect, type Socket } from "node:net";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawnApi, type ApiProcess } from "../test/api-process.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../test/fake-openai-server.ts";
import { bearer } from "../test/http.ts";

const SUPERADMIN = { email: "root@aborts.test", password: "correct-horse-battery-staple" };
/** Far longer than the stop may take: a stop that waits on a left client shows as a hang. */
const SHUTDOWN_TIMEOUT_MS = 60_000;
/** Generous against the 60–70 s a held connection cost; a prompt stop takes a second or two. */
const PROMPT_EXIT_MS = 20_000;
/** A process start (up to a minute on a loaded machine), the aborts, and the exit. */
const TEST_TIMEOUT_MS = 120_000;

let upstream: FakeOpenAIServer;
let api: ApiProcess | undefined;
const heldSockets: Socket[] = [];

beforeAll(async () => {
  upstream = await startFakeOpenAI({ name: "beta", defaultBehavior: { kind: "wait", until: new Promise(() => {}) } });
});
afterEach(async () => {
  for (const socket of heldSockets.splice(0)) socket.destroy();
  await api?.stop();
  api = undefined;
});
afterAll(async () => {
  await upstream?.close();
});

async function start(): Promise<{ url: string; token: string }> {
  api = await spawnApi({
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "test",
      JWT_SECRET: "aborts-test-secret-that-is-long-enough-0123456789",
      SUPERADMIN_EMAIL: SUPERADMIN.email,
      SUPERADMIN_PASSWORD: SUPERADMIN.password,
      LOG_LEVEL: "warn",
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      BETA_MODEL_BASE_URL: upstream.url,
      PROVIDER_ORDER: "beta",
    },
    dataDirPrefix: "switchboard-aborts-",
  });
  // Signing in over fetch also teaches undici the server's keep-alive time, as any earlier
  // request on the same origin would.
  const res = await fetch(`${api.url}/trpc/auth.login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(SUPERADMIN) });
  const token = ((await res.json()) as { result: { data: { accessToken: string } } }).result.data.accessToken;
  return { url: api.url, token };
}

const chatBody = (stream: boolean) => JSON.stringify({ model: "auto", stream, messages: [{ role: "user", content: "hello" }] });

/** Runs `send` until the upstream has the call, then `abort`, and waits for the upstream call to be aborted too. */
async function abortInFlight(send: () => Promise<unknown>, abort: () => void): Promise<void> {
  const index = upstream.requests.length;
  const settled = send().catch(() => undefined);
  await upstream.waitForRequests(index + 1);
  abort();
  await settled;
  await upstream.waitForAbort(index);
}

/** SIGTERM, then the exit: 0 within PROMPT_EXIT_MS, or the test fails without waiting out the hang. */
async function expectPromptExitAfterSigterm(): Promise<void> {
  process.kill(api!.pid, "SIGTERM");
  const tooLate = new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), PROMPT_EXIT_MS).unref());
  expect(await Promise.race([api!.exit, tooLate]), api!.output()).toEqual({ code: 0, signal: null });
}

function rawChatRequest(url: string, token: string): Socket {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const body = chatBody(false);
  socket.on("error", () => {});
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return socket;
}

describe("SIGTERM after clients aborted their requests", () => {
  it("fetch with an AbortController, streamed and not: upstream calls aborted, exit at once", async () => {
    const { url, token } = await start();
    for (const stream of [false, true]) {
      const controller = new AbortController();
      await abortInFlight(
        () => fetch(`${url}/v1/chat/completions`, { method: "POST", signal: controller.signal, headers: { ...bearer(token), "content-type": "application/json" }, body: chatBody(stream) }),
        () => controller.abort(),
      );
    }
    await expectPromptExitAfterSigterm();
  }, TEST_TIMEOUT_MS);

  it("the openai SDK's request abort: upstream calls aborted, exit at once", async () => {
    const { url, token } = await start();
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0 });
    for (const stream of [false, true]) {
      const controller = new AbortController();
      await abortInFlight(
        () => openai.chat.completions.create({ model: "auto", stream, messages: [{ role: "user", content: "hello" }] }, { signal: controller.signal }),
        () => controller.abort(),
      );
    }
    await expectPromptExitAfterSigterm();
  }, TEST_TIMEOUT_MS);

  it("a raw socket destroyed mid-request, and one connected that never sends: exit at once", async () => {
    const { url, token } = await start();
    const request = rawChatRequest(url, token);
    await abortInFlight(
      () => new Promise((resolve) => request.once("close", resolve)),
      () => request.destroy(),
    );
    const { hostname, port } = new URL(url);
    const silent = connect(Number(port), hostname).on("error", () => {});
    heldSockets.push(silent);
    await new Promise((resolve) => silent.once("connect", resolve));
    await expectPromptExitAfterSigterm();
  }, TEST_TIMEOUT_MS);
});
