/**
 * Input that zod lets through but that names nothing real (an unknown id, a cursor from
 * nowhere, a string where an object is expected) must be a 4xx, never a 500: a 500 pages
 * whoever is on call for what is only a client's mistake.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";

let t: TestApp;
let root: string;

beforeAll(async () => {
  t = await startTestApp();
  root = await t.login();
});
afterAll(async () => {
  await t?.close();
});

describe("a cursor that names nothing", () => {
  // Not an empty page: a caller paging through would take that for the end of the list.
  it.each([
    ["users.list", { cursor: "no-such-user" }],
    ["users.list", { cursor: randomUUID() }],
    ["emergency.history", { cursor: "no-such-event" }],
    ["emergency.history", { cursor: randomUUID() }],
    ["consensus.history", { cursor: randomUUID() }],
    ["chat.conversations.list", { cursor: randomUUID() }],
    ["cache.purges", { cursor: "no-such-purge" }],
    ["cache.purges", { cursor: randomUUID() }],
    ["logs.list", { cursor: randomUUID() }],
    ["keys.list", { cursor: randomUUID() }],
    ["config.history", { cursor: "no-such-entry" }],
  ])("%s %j is a 404 that says to start again", async (path, input) => {
    const res = await trpcQuery(t.url, path, input, bearer(root));
    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(res.body.error.message).toMatch(/no longer exists; start again from the first page/);
    expect(res.body.error.data).toMatchObject({ appCode: "NOT_FOUND", field: "cursor" });
  });
});

describe("bad input is a 4xx", () => {
  it.each([
    ["consensus.get", { id: randomUUID() }],
    ["consensus.get", { id: "not-a-uuid" }],
    ["chat.conversations.get", { id: randomUUID() }],
    ["metrics.timeseries", { from: "yesterday-ish" }],
    ["metrics.timeseries", "a string"],
    ["emergency.history", { limit: 1e9 }],
    ["cache.purges", { limit: 0 }],
    // Valid ISO dates in year 0, which PostgreSQL does not have (these were 500s).
    ["logs.list", { from: "0000-01-01T00:00:00Z" }],
    ["logs.list", { to: "0001-01-01T00:00:00+01:00" }],
    ["usage.summary", { groupBy: "day", from: "0000-06-30T12:00:00Z" }],
  ])("%s %j", async (path, input) => {
    const res = await trpcQuery(t.url, path, input, bearer(root));
    expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
  });

  it.each([
    ["users.update", { id: randomUUID(), role: "ADMIN" }],
    ["users.update", { id: "not-a-uuid", role: "ADMIN" }],
    ["users.create", { email: "x@y.test", password: "short", role: "KING" }],
    ["chat.conversations.delete", { id: randomUUID() }],
    ["emergency.freeze", { reason: "ok reason", scope: "provider:No Such Name" }],
    ["emergency.freeze", { reason: "ok reason", expiresInSec: -5 }],
    ["emergency.unfreeze", { reason: 42 }],
    ["auth.login", { email: ["a"], password: { $ne: null } }],
    ["auth.refresh", { refreshToken: "garbage.token.value" }],
  ])("%s %j", async (path, input) => {
    const res = await trpcMutation(t.url, path, input, bearer(root));
    expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
  });
});

describe("malformed requests are a 4xx", () => {
  const send = (path: string, init: RequestInit = {}) =>
    fetch(`${t.url}${path}`, { ...init, headers: { authorization: `Bearer ${root}`, ...(init.headers as Record<string, string>) } });

  it.each([
    ["GET /trpc with input that is not JSON", () => send("/trpc/users.list?input=%7Bnot-json")],
    ["POST /trpc with a body that is not JSON", () => send("/trpc/users.create", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" })],
    ["POST /trpc with a JSON string body", () => send("/trpc/users.create", { method: "POST", headers: { "content-type": "application/json" }, body: '"just a string"' })],
    ["REST freeze with a body that is not JSON", () => send("/api/admin/emergency/freeze", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" })],
    ["REST freeze with a JSON array", () => send("/api/admin/emergency/freeze", { method: "POST", headers: { "content-type": "application/json" }, body: "[1,2]" })],
    ["REST freeze with a text body", () => send("/api/admin/emergency/freeze", { method: "POST", headers: { "content-type": "text/plain" }, body: "freeze please" })],
    ["REST freeze with no body", () => send("/api/admin/emergency/freeze", { method: "POST" })],
    ["REST unfreeze with a JSON number", () => send("/api/admin/emergency/unfreeze", { method: "POST", headers: { "content-type": "application/json" }, body: "42" })],
    ["REST freeze with a Bearer token that is garbage", () =>
      fetch(`${t.url}/api/admin/emergency/freeze`, { method: "POST", headers: { authorization: "Bearer \u00ff.garbage", "content-type": "application/json" }, body: '{"reason":"bad token"}' })],
    ["a procedure that does not exist", () => send("/trpc/users.nope")],
  ])("%s", async (_name, request) => {
    const res = await request();
    const body = await res.text();
    expect(res.status, body).toBeGreaterThanOrEqual(400);
    expect(res.status, body).toBeLessThan(500);
  });
});

describe("malformed subscription input", () => {
  // SSE has already answered 200 when input is parsed, so the refusal is an error event.
  it.each([
    ["input that is not JSON", "%7Bnot-json"],
    ["input of the wrong shape", encodeURIComponent('{"prompt":7}')],
  ])("%s ends the stream with a BAD_REQUEST event", async (_name, input) => {
    const res = await fetch(`${t.url}/trpc/consensus.stream?input=${input}`, { headers: bearer(root), signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    expect(body).toContain('"code":"BAD_REQUEST","httpStatus":400');
  });
});
