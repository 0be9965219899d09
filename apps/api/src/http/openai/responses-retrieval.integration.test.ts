/**
 * Kept Responses answers read back as the official `openai` SDK does it
 * (`responses.retrieve`, `responses.inputItems.list`, `responses.delete`): by the user who got
 * them, on any instance of a fleet sharing Redis, never by another user or after `store: false`;
 * a deleted answer can no longer be continued; each read counts against the caller's rate limits.
 */
import OpenAI, { NotFoundError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type TestApp, type TestFleet } from "../../../test/app.ts";
import { bearer } from "../../../test/http.ts";
import { uniquePrefix } from "../../../test/redis.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let fleet: TestFleet;
let t: TestApp;
let t2: TestApp;
let up: Upstreams<"beta">;
let token: string;
let sdk: OpenAI;
/** The same user on the fleet's second instance. */
let sdkOnSecond: OpenAI;
const prefix = uniquePrefix("responses-retrieval");

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  const env = { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000" };
  fleet = await startFleet({ env, prefix });
  ({ a: t, b: t2 } = fleet);
  token = (await t.userWithRole("USER")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
  sdkOnSecond = new OpenAI({ baseURL: `${t2.url}/v1`, apiKey: token, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await fleet?.close();
  await up?.close();
});
afterEach(() => up.reset());

describe("GET /v1/responses/{id}", () => {
  it("gives back the answer as it was sent, on another instance too", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "Paris." });
    const created = await sdk.responses.create({ model: "beta", input: "Capital of France?", instructions: "Be brief.", metadata: { run: "r1" } });
    const retrieved = await sdkOnSecond.responses.retrieve(created.id);
    expect(retrieved).toEqual(created);
    expect(retrieved.output_text).toBe("Paris.");
    expect(retrieved).toMatchObject({ status: "completed", instructions: "Be brief.", metadata: { run: "r1" }, usage: { total_tokens: expect.any(Number) } });
  });

  it("gives back a streamed answer as its response.completed event carried it", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "Streamed answer" });
    let completed: unknown;
    for await (const event of await sdk.responses.create({ model: "beta", input: "Stream it", stream: true })) {
      if (event.type === "response.completed") completed = event.response;
    }
    const id = (completed as { id: string }).id;
    const retrieved = await sdkOnSecond.responses.retrieve(id);
    expect({ ...retrieved, output_text: undefined }).toEqual({ ...(completed as object), output_text: undefined });
    expect(retrieved.output_text).toBe("Streamed answer");
  });

  it("is a 404 in OpenAI's shape for an unknown id, another user, and an answer sent with store: false", async () => {
    const other = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: (await t.userWithRole("USER")).token, maxRetries: 0 });
    const mine = await sdk.responses.create({ model: "beta", input: "Mine" });
    const unkept = await sdk.responses.create({ model: "beta", input: "Not kept", store: false });
    for (const [client, id] of [[sdk, "resp_unknown"], [other, mine.id], [sdk, unkept.id]] as const) {
      const refused = await client.responses.retrieve(id).catch((e: unknown) => e);
      expect(refused, id).toBeInstanceOf(NotFoundError);
      expect((refused as NotFoundError).message).toContain(`Response with id '${id}' not found`);
    }
    // An id no answer could have is not found either, never a 400.
    expect(await sdk.responses.retrieve(`resp_${"x".repeat(500)}`).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
    expect(await sdk.responses.delete(`resp_${"x".repeat(500)}`).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
  });

  it("refuses stream=true (a background response's replay) with a 400 naming it, rather than JSON the SDK would read as events", async () => {
    const created = await sdk.responses.create({ model: "beta", input: "x" });
    const res = await fetch(`${t.url}/v1/responses/${created.id}?stream=true`, { headers: bearer(token) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("stream");
    expect((await fetch(`${t.url}/v1/responses/${created.id}?stream=false`, { headers: bearer(token) })).status).toBe(200);
  });

  it("answers an API key with the chat scope, and refuses one without it", async () => {
    const keys = t.client(token).keys;
    const chatKey = await keys.create.mutate({ name: "chat", scopes: ["chat"] });
    const modelsKey = await keys.create.mutate({ name: "models only", scopes: ["models"] });
    const created = await sdk.responses.create({ model: "beta", input: "For a key" });
    const withKey = await fetch(`${t.url}/v1/responses/${created.id}`, { headers: bearer(chatKey.key) });
    expect(withKey.status).toBe(200);
    expect(((await withKey.json()) as { id: string }).id).toBe(created.id);
    expect((await fetch(`${t.url}/v1/responses/${created.id}`, { headers: bearer(modelsKey.key) })).status).toBe(403);
    expect((await fetch(`${t.url}/v1/responses/${created.id}`)).status).toBe(401);
  });
});

describe("reads of kept answers", () => {
  it("count against the user's chat rate, as any OpenAI request does", async () => {
    const created = await sdk.responses.create({ model: "beta", input: "Count my reads" });
    const remaining = async (path: string) => {
      const res = await fetch(`${t.url}/v1/responses/${created.id}${path}`, { headers: bearer(token) });
      expect(res.status).toBe(200);
      return Number(res.headers.get("x-ratelimit-remaining-requests"));
    };
    const first = await remaining("");
    expect(await remaining("/input_items")).toBe(first - 1);
    expect(await remaining("")).toBe(first - 2);
  });

  it("count against an API key's rate limit: past it a 429 with Retry-After, though a read costs no money", async () => {
    const key = await t.client(token).keys.create.mutate({ name: "two a minute", scopes: ["chat"], rateLimitPerMin: 2 });
    const created = await sdk.responses.create({ model: "beta", input: "For a limited key" });
    const read = () => fetch(`${t.url}/v1/responses/${created.id}`, { headers: bearer(key.key) });
    const first = await read();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect((await read()).status).toBe(200);
    const refused = await read();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
  });
});

describe("GET /v1/responses/{id}/input_items", () => {
  it("lists the input the answer answered, newest first by default, a page at a time", async () => {
    const created = await sdk.responses.create({
      model: "beta",
      input: [
        { role: "developer", content: "Answer in French." },
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Bonjour" },
        { role: "user", content: [{ type: "input_text", text: "And goodbye?" }] },
      ],
    });
    const page = await sdkOnSecond.responses.inputItems.list(created.id, { limit: 3 });
    expect(page.data.map((item) => (item as { content: Array<{ text: string }> }).content[0]!.text)).toEqual(["And goodbye?", "Bonjour", "Hello"]);
    expect(page.data[1]).toMatchObject({ type: "message", role: "assistant", content: [{ type: "output_text", text: "Bonjour" }] });
    expect(page.data[2]).toMatchObject({ type: "message", role: "user", content: [{ type: "input_text", text: "Hello" }], id: expect.stringMatching(/^msg_/) });
    expect(page.has_more).toBe(true);
    // The SDK's auto-pagination follows `after`: every item once, ids stable between reads.
    const all = [];
    for await (const item of sdk.responses.inputItems.list(created.id, { limit: 2, order: "asc" })) all.push(item);
    expect(all.map((item) => item.id)).toEqual([...page.data.map((item) => item.id), expect.any(String)].reverse());
    expect(new Set(all.map((item) => item.id)).size).toBe(4);
  });

  it("pages through items sent with the same id (one item named twice) once each: the SDK's auto-pagination ends", async () => {
    const created = await sdk.responses.create({
      model: "beta",
      input: [1, 2, 3].map((n) => ({ type: "message" as const, id: "msg_same", role: "user" as const, content: [{ type: "input_text" as const, text: `part ${n}` }] })),
    });
    const all = [];
    for await (const item of sdk.responses.inputItems.list(created.id, { limit: 1, order: "asc" })) {
      all.push(item);
      if (all.length > 5) break;
    }
    expect(all.map((item) => (item as { content: Array<{ text: string }> }).content[0]!.text)).toEqual(["part 1", "part 2", "part 3"]);
    expect(all[0]!.id).toBe("msg_same");
    expect(new Set(all.map((item) => item.id)).size).toBe(3);
  });

  it("refuses a bad limit or an unknown after as a 400 naming it, and an unknown answer as a 404", async () => {
    const created = await sdk.responses.create({ model: "beta", input: "x" });
    const tooMany = await fetch(`${t.url}/v1/responses/${created.id}/input_items?limit=101`, { headers: bearer(token) });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: { param: string } }).error.param).toBe("limit");
    const unknownAfter = await fetch(`${t.url}/v1/responses/${created.id}/input_items?after=msg_nope`, { headers: bearer(token) });
    expect(unknownAfter.status).toBe(400);
    expect(((await unknownAfter.json()) as { error: { param: string } }).error.param).toBe("after");
    expect(await sdk.responses.inputItems.list("resp_unknown").catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
  });
});

describe("DELETE /v1/responses/{id}", () => {
  it("forgets the answer everywhere: it can no longer be retrieved, continued or its items referred to", async () => {
    up.fakes.beta.enqueue({ kind: "ok", content: "Forget me" });
    const created = await sdk.responses.create({ model: "beta", input: "Remember this" });
    const deleted = await fetch(`${t.url}/v1/responses/${created.id}`, { method: "DELETE", headers: bearer(token) });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: created.id, object: "response", deleted: true });
    expect(await sdkOnSecond.responses.retrieve(created.id).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
    const continued = await sdk.responses.create({ model: "beta", input: "And then?", previous_response_id: created.id }).catch((e: unknown) => e);
    expect(continued).toMatchObject({ status: 400, code: "previous_response_not_found" });
    const referred = await sdk.responses.create({ model: "beta", input: [{ type: "item_reference", id: created.output[0]!.id! }] }).catch((e: unknown) => e);
    expect(referred).toMatchObject({ status: 400 });
    // Deleting again, or another user's answer, is a 404 that changes nothing.
    expect(await sdk.responses.delete(created.id).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
  });

  it("leaves another user's answer alone", async () => {
    const created = await sdk.responses.create({ model: "beta", input: "Mine to keep" });
    const other = (await t.userWithRole("USER")).token;
    const refused = await fetch(`${t.url}/v1/responses/${created.id}`, { method: "DELETE", headers: bearer(other) });
    expect(refused.status).toBe(404);
    expect((await sdk.responses.retrieve(created.id)).id).toBe(created.id);
  });
});

describe("methods and paths around kept answers", () => {
  it("names what is allowed (405) and says there is nothing to cancel (404)", async () => {
    const created = await sdk.responses.create({ model: "beta", input: "x" });
    const posted = await fetch(`${t.url}/v1/responses/${created.id}`, { method: "POST", headers: bearer(token) });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET, HEAD, DELETE");
    const cancel = await fetch(`${t.url}/v1/responses/${created.id}/cancel`, { method: "POST", headers: bearer(token) });
    expect(cancel.status).toBe(404);
    expect(((await cancel.json()) as { error: { message: string } }).error.message).toContain("none runs in the background");
  });
});
