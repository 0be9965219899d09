/**
 * SIGTERM on the real server process with streams open, as an orchestrator sends it during a
 * rolling update: every endless stream (emergency.watch, as every admin tab has one) ends at
 * once with a final event, an in-flight chat stream finishes or ends with an explicit error
 * before SHUTDOWN_TIMEOUT_MS, and the process exits 0. A second SIGTERM exits at once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawnApi, type ApiProcess } from "../test/api-process.ts";
import { openStream } from "../test/raw-http.ts";

const SUPERADMIN = { email: "root@shutdown.test", password: "correct-horse-battery-staple" };
let api: ApiProcess | undefined;

afterEach(async () => {
  await api?.stop();
  api = undefined;
});

async function start(env: Record<string, string>): Promise<ApiProcess> {
  return spawnApi({
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "test",
      JWT_SECRET: "shutdown-test-secret-that-is-long-enough-0123456789",
      SUPERADMIN_EMAIL: SUPERADMIN.email,
      SUPERADMIN_PASSWORD: SUPERADMIN.password,
      LOG_LEVEL: "info",
      ...env,
    },
    dataDirPrefix: "switchboard-shutdown-",
  });
}

async function login(url: string): Promise<string> {
  const res = await fetch(`${url}/trpc/auth.login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(SUPERADMIN) });
  return ((await res.json()) as { result: { data: { accessToken: string } } }).result.data.accessToken;
}

const chatPath = (message: string) => `/trpc/chat.stream?input=${encodeURIComponent(JSON.stringify({ message }))}`;

describe("graceful stop", () => {
  it("ends every stream with a final event, lets chat end explicitly, and exits 0", async () => {
    // The offline responder streams a word every 400 ms: longer than the shutdown allows.
    api = await start({ SHUTDOWN_TIMEOUT_MS: "4000", TEMPLATE_STREAM_DELAY_MS: "400" });
    const token = await login(api.url);
    const watches = await Promise.all(Array.from({ length: 5 }, () => openStream(api!.url, "/trpc/emergency.watch")));
    const signedInWatch = await openStream(api.url, "/trpc/emergency.watch", { authorization: `Bearer ${token}` });
    const chat = await openStream(api.url, chatPath("Tell me a long story about graceful shutdowns"), { authorization: `Bearer ${token}` });
    for (const s of [...watches, signedInWatch]) await s.waitFor('"active":false');
    await chat.waitFor("chat_delta");

    process.kill(api.pid, "SIGTERM");
    const exit = await api.exit;
    expect(exit, api.output()).toEqual({ code: 0, signal: null });

    for (const s of [...watches, signedInWatch]) {
      await s.ended;
      expect(s.text()).toContain("event: serialized-error");
      expect(s.text()).toContain("shutting down");
    }
    await chat.ended;
    // Finished, or ended with an explicit error event: never cut without a word.
    expect(chat.text()).toMatch(/chat_complete|"type":"error"[^\n]*shutting down/);
    expect(api.output()).toContain("shutting down");
  });

  it("a second SIGTERM exits at once", async () => {
    api = await start({ SHUTDOWN_TIMEOUT_MS: "60000", TEMPLATE_STREAM_DELAY_MS: "1000" });
    const token = await login(api.url);
    const chat = await openStream(api.url, chatPath("A slow one"), { authorization: `Bearer ${token}` });
    await chat.waitFor("chat_start");
    process.kill(api.pid, "SIGTERM");
    // The first stop is waiting for the chat stream (up to a minute); the second does not.
    await new Promise((r) => setTimeout(r, 300));
    process.kill(api.pid, "SIGTERM");
    expect(await api.exit).toEqual({ code: 143, signal: null });
  });
});
