/**
 * Who may send `config.import` a document over 1 MB: the admin's SuperAdmin, signed in with
 * the session cookies as the admin page is (no Authorization header), whose import was
 * refused 401 unread; never a page on another origin carrying those cookies. And only a
 * caller the procedure accepts: anyone else signed in (a user, a key without write:config)
 * is refused 403 before a byte of the body is read, where they could hold the import's
 * room with slow uploads and refuse every SuperAdmin's import.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation } from "../../test/http.ts";
import { rawRequest } from "../../test/raw-http.ts";

const MB = 1024 * 1024;

let t: TestApp;
let session: { cookie: string };
let root: string;

beforeAll(async () => {
  t = await startTestApp();
  // Signed in as the admin page signs in: the server's Set-Cookie, sent back as a browser would.
  const login = await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN);
  session = { cookie: login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ") };
  expect(session.cookie).toContain("sb_access=");
  root = await t.login();
});
afterAll(async () => {
  await t?.close();
});

/** A valid import input over 1 MB (a dry run: nothing changes). */
function bigImport(): string {
  const providers = Array.from({ length: 150 }, (_, i) => ({
    name: `big-${i}`,
    kind: "openai-compatible",
    baseUrl: "http://127.0.0.1:9/v1",
    models: Array.from({ length: 120 }, (_, j) => `vendor/some-rather-long-model-name-${j}-instruct-v1-0613-preview`),
  }));
  const body = JSON.stringify({ document: { providers, models: [] }, dryRun: true });
  expect(Buffer.byteLength(body)).toBeGreaterThan(MB);
  return body;
}

describe("a document over 1 MB sent with the session cookie", () => {
  it("is imported for the SuperAdmin on the admin's own origin", async () => {
    const res = await rawRequest(t.url, {
      method: "POST",
      path: "/trpc/config.import",
      headers: { ...session, "content-type": "application/json", origin: t.url, "sec-fetch-site": "same-origin" },
      body: bigImport(),
    });
    expect(res.status, res.text).toBe(200);
    expect(JSON.parse(res.text).result.data.steps).toHaveLength(150);
  });

  it("is refused unread from another origin", async () => {
    for (const origin of ["http://evil.example", `${new URL(t.url).protocol}//${new URL(t.url).hostname}:1`]) {
      const res = await rawRequest(t.url, {
        method: "POST",
        path: "/trpc/config.import",
        headers: { ...session, "content-type": "application/json", origin, "sec-fetch-site": "same-site" },
        streamBytes: 8 * MB,
      });
      expect(res.status, origin).toBe(403);
      expect(res.bytesSent, origin).toBeLessThan(8 * MB);
    }
  });
});

/** Headers announcing a body of `length` bytes, and none of it sent: the answer, or status 0 when none came within a few seconds. */
function headersOnly(headers: Record<string, string>, length: number): Promise<{ status: number; text: string }> {
  const url = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: "POST", path: "/trpc/config.import", headers: { ...headers, "content-type": "application/json", "content-length": String(length) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        clearTimeout(waiting);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text });
      });
    });
    const waiting = setTimeout(() => {
      req.destroy();
      resolve({ status: 0, text: "" });
    }, 5000);
    req.on("error", (error) => {
      clearTimeout(waiting);
      reject(error);
    });
    req.flushHeaders();
  });
}

describe("a body over 1 MB from a caller config.import refuses", () => {
  it("is 403 before any of it is sent, for a user and for a key without write:config; the SuperAdmin's key still imports", async () => {
    const user = await t.userWithRole("USER");
    const ownKey = (await t.client(user.token).keys.create.mutate({ name: "user's" })).key;
    const narrowKey = (await t.client(root).keys.create.mutate({ name: "no write:config" })).key;
    for (const [who, token] of [["user", user.token], ["user's key", ownKey], ["root's key without write:config", narrowKey]] as const) {
      const res = await headersOnly(bearer(token), 16 * MB);
      expect(res.status, who).toBe(403);
      expect(JSON.parse(res.text).error.message, who).toMatch(/^A request body over 1 MB is read only for a caller this procedure accepts: /);
    }
    // A small call from them is the procedure's own refusal, as before.
    expect((await trpcMutation(t.url, "config.import", { document: { providers: [], models: [] }, dryRun: true }, bearer(user.token))).status).toBe(403);

    const configKey = (await t.client(root).keys.create.mutate({ name: "pipeline", scopes: ["write:config"] })).key;
    const res = await rawRequest(t.url, { method: "POST", path: "/trpc/config.import", headers: { ...bearer(configKey), "content-type": "application/json" }, body: bigImport() });
    expect(res.status, res.text).toBe(200);
  });
});
