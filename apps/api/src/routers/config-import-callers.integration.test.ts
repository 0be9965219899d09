/**
 * Who may send `config.import` a document over 1 MB: the admin's SuperAdmin, signed in with
 * the session cookies as the admin page is (no Authorization header), whose import was
 * refused 401 unread; never a page on another origin carrying those cookies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../test/app.ts";
import { trpcMutation } from "../../test/http.ts";
import { rawRequest } from "../../test/raw-http.ts";

const MB = 1024 * 1024;

let t: TestApp;
let session: { cookie: string };

beforeAll(async () => {
  t = await startTestApp();
  // Signed in as the admin page signs in: the server's Set-Cookie, sent back as a browser would.
  const login = await trpcMutation(t.url, "auth.login", TEST_SUPERADMIN);
  session = { cookie: login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ") };
  expect(session.cookie).toContain("sb_access=");
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
