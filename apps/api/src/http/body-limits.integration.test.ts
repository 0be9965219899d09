/**
 * Bodies: 1 MB of any type at most (more on the /v1 routes that carry model input:
 * openai/large-bodies.integration.test.ts), refused with a readable 413 before being buffered; /trpc
 * takes JSON only (415 for multipart, octet-stream, text, whatever the size); a method a
 * route does not serve is a 405 with Allow, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer } from "../../test/http.ts";
import { rawRequest } from "../../test/raw-http.ts";

let t: TestApp;
let root: string;
const MB = 1024 * 1024;
const multipart = { "content-type": "multipart/form-data; boundary=----x" };

beforeAll(async () => {
  t = await startTestApp();
  root = await t.login();
});

afterAll(async () => {
  await t?.close();
});

describe("body limits", () => {
  it("refuses a 200 MB multipart sign-in with 413 long before the body is sent, and the client reads it", async () => {
    const rssBefore = process.memoryUsage().rss;
    const res = await rawRequest(t.url, { method: "POST", path: "/trpc/auth.login", headers: multipart, streamBytes: 200 * MB });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text).error.data).toMatchObject({ code: "PAYLOAD_TOO_LARGE", httpStatus: 413 });
    // Refused on the declared length: only what was in flight left the client.
    expect(res.bytesSent).toBeLessThan(50 * MB);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * MB);
  });

  it("refuses a chunked body past 1 MB with 413 while reading it", async () => {
    const res = await rawRequest(t.url, {
      method: "POST",
      path: "/trpc/auth.login",
      headers: { "content-type": "application/json" },
      streamBytes: 5 * MB,
      declareLength: false,
    });
    expect(res.status).toBe(413);
    expect(res.bytesSent).toBeLessThan(5 * MB);
  });

  it("takes only JSON at /trpc: multipart, octet-stream, form and text are 415 whatever the size", async () => {
    const types = ["multipart/form-data; boundary=----x", "application/octet-stream", "application/x-www-form-urlencoded", "text/plain"];
    for (const type of types) {
      const small = await rawRequest(t.url, { method: "POST", path: "/trpc/emergency.unfreeze", headers: { "content-type": type, ...bearer(root) }, body: "{}" });
      expect(small.status, type).toBe(415);
      // Chunked and large: refused on the type, unread.
      const large = await rawRequest(t.url, { method: "POST", path: "/trpc/auth.login", headers: { "content-type": type }, streamBytes: 20 * MB, declareLength: false });
      expect(large.status, type).toBe(415);
      expect(large.bytesSent, type).toBeLessThan(20 * MB);
    }
  });

  it("limits every other route the same way (the /v1 routes carrying model input at OPENAI_MAX_BODY_MB)", async () => {
    const openai = await rawRequest(t.url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", ...bearer(root) }, streamBytes: 21 * MB });
    expect(openai.status).toBe(413);
    expect(JSON.parse(openai.text).error).toMatchObject({ type: expect.any(String) });
    const rest = await rawRequest(t.url, { method: "POST", path: "/api/admin/emergency/unfreeze", headers: multipart, streamBytes: 200 * MB });
    expect(rest.status).toBe(413);
    expect((await rawRequest(t.url, { method: "POST", path: "/api/admin/emergency/unfreeze", headers: { ...multipart, ...bearer(root) }, body: "--x--" })).status).toBe(415);
    const unknown = await rawRequest(t.url, { method: "POST", path: "/no/such/route", headers: multipart, streamBytes: 200 * MB });
    expect(unknown.status).toBe(413);
  });

  it("still serves JSON bodies under the limit", async () => {
    const res = await rawRequest(t.url, {
      method: "POST",
      path: "/trpc/auth.login",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "nobody@switchboard.test", password: "x".repeat(100) }),
    });
    expect(res.status).toBe(401);
  });
});

describe("methods", () => {
  it("TRACE on a procedure is a 405 with Allow, never a 500", async () => {
    const res = await rawRequest(t.url, { method: "TRACE", path: "/trpc/chat.send" });
    expect(res.status).toBe(405);
    expect(String(res.headers.allow).split(", ")).toEqual(expect.arrayContaining(["GET", "POST"]));
  });

  it("any method a route does not serve is a 405 naming the ones it does", async () => {
    for (const [method, path, allow] of [
      ["DELETE", "/health", "GET, HEAD"],
      ["PUT", "/trpc/auth.login", "GET, POST"],
      // A procedure has no headers-only form (the automatic HEAD twin of GET was a 500).
      ["HEAD", "/trpc/auth.me", "GET, POST"],
      ["PATCH", "/v1/chat/completions", "POST"],
      ["TRACE", "/api/admin/emergency/status", "GET, HEAD"],
    ] as const) {
      const res = await rawRequest(t.url, { method, path });
      expect(res.status, `${method} ${path}`).toBe(405);
      // (With the admin build present its catch-all GET route shows up in Allow as well.)
      expect(String(res.headers.allow).split(", "), `${method} ${path}`).toEqual(expect.arrayContaining(allow.split(", ")));
    }
  });
});
