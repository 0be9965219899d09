/**
 * Bodies are JSON in UTF-8: text/plain, a content coding or another charset is a 415 saying
 * what to send instead, on every route (the OpenAI dialect on /v1, tRPC's on /trpc); a
 * body-less DELETE that carries a JSON content type is read as no body.
 */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer } from "../../test/http.ts";

let t: TestApp;
let token: string;
const chat = JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }] });

beforeAll(async () => {
  t = await startTestApp();
  token = await t.login();
});
afterAll(async () => t?.close());

const post = (path: string, headers: Record<string, string>, body: string | Buffer) =>
  fetch(`${t.url}${path}`, { method: "POST", headers: { ...bearer(token), ...headers }, body });

describe("request bodies", () => {
  it("refuses text/plain with 415 on /v1 and the REST routes, as on /trpc", async () => {
    const v1 = await post("/v1/chat/completions", { "content-type": "text/plain" }, chat);
    expect(v1.status).toBe(415);
    expect(((await v1.json()) as { error: { message: string; type: string } }).error).toMatchObject({ type: "invalid_request_error", message: expect.stringMatching(/send application\/json/) });
    expect((await post("/api/chat", { "content-type": "text/plain" }, JSON.stringify({ message: "hi" }))).status).toBe(415);
    expect((await post("/trpc/auth.logout", { "content-type": "text/plain" }, "{}")).status).toBe(415);
  });

  it("refuses a compressed body with 415 naming its coding, unread as JSON", async () => {
    const gz = await post("/v1/chat/completions", { "content-type": "application/json", "content-encoding": "gzip" }, gzipSync(chat));
    expect(gz.status).toBe(415);
    expect(((await gz.json()) as { error: { message: string } }).error.message).toBe("Content-Encoding gzip is not supported; send the body uncompressed");
    const trpc = await post("/trpc/auth.logout", { "content-type": "application/json", "content-encoding": "br" }, "{}");
    expect(trpc.status).toBe(415);
    expect(((await trpc.json()) as { error: { data: { code: string } } }).error.data.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    // "identity" is no coding at all.
    expect((await post("/v1/chat/completions", { "content-type": "application/json", "content-encoding": "identity" }, chat)).status).toBe(200);
  });

  it("refuses a charset other than UTF-8 with 415; UTF-8 named in any spelling is read", async () => {
    const utf16 = await post("/v1/chat/completions", { "content-type": "application/json; charset=utf-16le" }, Buffer.from(chat, "utf16le"));
    expect(utf16.status).toBe(415);
    expect(((await utf16.json()) as { error: { message: string } }).error.message).toBe("charset=utf-16le is not supported; send JSON in UTF-8");
    for (const type of ["application/json; charset=utf-8", "application/json;charset=UTF-8", 'application/json; charset="utf8"']) {
      expect((await post("/v1/chat/completions", { "content-type": type }, chat)).status, type).toBe(200);
    }
  });

  it("reads a DELETE with a JSON content type and nothing after it as one without a body", async () => {
    const created = await post("/v1/responses", { "content-type": "application/json" }, JSON.stringify({ model: "auto", input: "hi" }));
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    const deleted = await fetch(`${t.url}/v1/responses/${id}`, { method: "DELETE", headers: { ...bearer(token), "content-type": "application/json" } });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ id, deleted: true });
    // A POST still needs its body.
    const empty = await post("/v1/chat/completions", { "content-type": "application/json" }, "");
    expect(empty.status).toBe(400);
  });

  it("still refuses prototype poisoning in JSON bodies", async () => {
    const res = await post("/v1/chat/completions", { "content-type": "application/json" }, '{"model":"auto","messages":[],"__proto__":{"admin":true}}');
    expect(res.status).toBe(400);
  });
});
