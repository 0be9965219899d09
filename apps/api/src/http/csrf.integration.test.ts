/**
 * Cross-site request forgery with the SPA's session cookie, as reproduced against the
 * landed build: a multipart POST to emergency.unfreeze from another origin, a bodyless POST
 * to the REST alias, and a cookie-only GET of consensus.query (a paid run). Each is now a
 * 403 that changes nothing; the same calls from our own origin, from CORS_ORIGINS, or with a
 * Bearer token work. Refusals carry CORS headers for allowed origins (freeze refusals too), and
 * a page on an allowed origin may read a log export's size headers.
 */
import { LOG_EXPORT_HEADERS } from "@switchboard/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { rawRequest } from "../../test/raw-http.ts";

const ALLOWED = "http://admin.switchboard.test";
let t: TestApp;
let root: string;
let cookie: { cookie: string };

beforeAll(async () => {
  t = await startTestApp({ env: { CORS_ORIGINS: ALLOWED } });
  root = await t.login();
  cookie = { cookie: `sb_access=${root}` };
});

afterAll(async () => {
  await t?.close();
});

const isFrozen = async () => (await trpcQuery(t.url, "emergency.status")).body.result.data.active as boolean;
// Same site, other origin: another port on the same host sends SameSite=Strict cookies.
const sameSiteOtherPort = () => `${new URL(t.url).protocol}//${new URL(t.url).hostname}:1`;

describe("cookie sessions refuse other origins", () => {
  beforeAll(async () => {
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "csrf test" }, bearer(root))).status).toBe(200);
  });

  it("a multipart POST to emergency.unfreeze from another origin is 403 and the freeze holds", async () => {
    for (const origin of ["http://evil.example", sameSiteOtherPort(), "null"]) {
      const res = await rawRequest(t.url, {
        method: "POST",
        path: "/trpc/emergency.unfreeze",
        headers: { ...cookie, origin, "content-type": "multipart/form-data; boundary=x" },
        body: '--x\r\nContent-Disposition: form-data; name="reason"\r\n\r\nbye\r\n--x--\r\n',
      });
      expect(res.status, origin).toBe(403);
    }
    expect(await isFrozen()).toBe(true);
  });

  it("a bodyless POST to the REST alias is 403 without proof of our origin", async () => {
    const variants: Array<Record<string, string>> = [{ origin: "http://evil.example" }, { "sec-fetch-site": "same-site" }, { "sec-fetch-site": "cross-site" }, {}];
    for (const headers of variants) {
      const res = await rawRequest(t.url, { method: "POST", path: "/api/admin/emergency/unfreeze", headers: { ...cookie, ...headers } });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(JSON.parse(res.text).error.code).toBe("FORBIDDEN");
    }
    expect(await isFrozen()).toBe(true);
  });

  it("a cookie-only GET of consensus.query (a paid run) is 403 from elsewhere", async () => {
    // Not frozen here, so nothing but this check stands in the way.
    expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
    const path = `/trpc/consensus.query?input=${encodeURIComponent(JSON.stringify({ prompt: "2+2?", strategy: "majority" }))}`;
    const variants: Array<Record<string, string>> = [{ origin: "http://evil.example" }, { "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, {}];
    for (const headers of variants) {
      const res = await rawRequest(t.url, { path, headers: { ...cookie, ...headers } });
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    // Subscriptions that call models too.
    const stream = `/trpc/chat.stream?input=${encodeURIComponent(JSON.stringify({ message: "hi" }))}`;
    const res = await rawRequest(t.url, { path: stream, headers: { ...cookie, "sec-fetch-site": "cross-site", accept: "text/event-stream" } });
    // SSE answers 200 and then the refusal as its only event: no model was called.
    expect(res.text).toContain("FORBIDDEN");
    expect(res.text).not.toContain("chat_start");
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "csrf test" }, bearer(root))).status).toBe(200);
  });

  it("the same calls from our own origin, an allowed origin, or with a Bearer token go through", async () => {
    // Bearer from anywhere: no browser attaches it on another page's behalf.
    const viaBearer = await rawRequest(t.url, { method: "POST", path: "/api/admin/emergency/unfreeze", headers: { ...bearer(root), origin: "http://evil.example" } });
    expect(viaBearer.status).toBe(200);
    expect(await isFrozen()).toBe(false);

    const refreeze = () => trpcMutation(t.url, "emergency.freeze", { reason: "again" }, { ...cookie, origin: t.url });
    expect((await refreeze()).status).toBe(200);
    const own = await rawRequest(t.url, { method: "POST", path: "/api/admin/emergency/unfreeze", headers: { ...cookie, "sec-fetch-site": "same-origin" } });
    expect(own.status).toBe(200);
    expect((await refreeze()).status).toBe(200);
    const allowed = await rawRequest(t.url, { method: "POST", path: "/api/admin/emergency/unfreeze", headers: { ...cookie, origin: ALLOWED } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers["access-control-allow-origin"]).toBe(ALLOWED);
    // Reads that cost nothing work with the cookie from anywhere (no state, no cost).
    expect((await trpcQuery(t.url, "auth.me", undefined, { ...cookie, "sec-fetch-site": "cross-site" })).status).toBe(200);
    // A paid query from our own pages is not refused by this check.
    const path = `/trpc/consensus.query?input=${encodeURIComponent(JSON.stringify({ prompt: "2+2?", strategy: "majority" }))}`;
    expect((await rawRequest(t.url, { path, headers: { ...cookie, "sec-fetch-site": "same-origin" } })).status).not.toBe(403);
  });
});

describe("CORS on every refusal", () => {
  it("freeze refusals on /v1, /trpc and /api carry CORS headers for an allowed origin", async () => {
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "cors test" }, bearer(root))).status).toBe(200);
    for (const path of ["/v1/models", "/trpc/users.list", "/api/models"]) {
      const res = await rawRequest(t.url, { path, headers: { ...bearer(root), origin: ALLOWED } });
      expect(res.status, path).toBe(503);
      expect(res.headers["access-control-allow-origin"], path).toBe(ALLOWED);
    }
    const tooLarge = await rawRequest(t.url, { method: "POST", path: "/v1/chat/completions", headers: { origin: ALLOWED, "content-type": "application/json" }, streamBytes: 21 * 1024 * 1024 });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
  });
});

describe("CORS on a log export", () => {
  it("lets a page on an allowed origin read how many rows the export holds and whether it was cut", async () => {
    const res = await rawRequest(t.url, { method: "HEAD", path: "/api/logs/export.csv", headers: { ...bearer(root), origin: ALLOWED } });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
    const exposed = String(res.headers["access-control-expose-headers"]).split(",").map((h) => h.trim());
    expect(exposed).toEqual(expect.arrayContaining([LOG_EXPORT_HEADERS.rows, LOG_EXPORT_HEADERS.truncated]));
    expect(res.headers[LOG_EXPORT_HEADERS.truncated]).toBe("false");
  });
});
