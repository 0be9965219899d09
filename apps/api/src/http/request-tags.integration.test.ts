/**
 * Tags a caller puts on a request (`x-switchboard-tags`), and those of the API key it uses,
 * reach its request-log row on every surface, and logs and spend can be filtered by them; a
 * malformed header is a 400 in the surface's dialect before anything is sent upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { socketChat } from "../../test/chat.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";

let t: TestApp;
let up: Upstreams<"beta">;
let user: { id: string; token: string };
let other: { id: string; token: string };
let admin: { id: string; token: string };

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  t = await startTestApp({ env: { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000" }, appOptions: { requestLogFlushMs: 50 } });
  [user, other, admin] = [await t.userWithRole("USER"), await t.userWithRole("USER"), await t.userWithRole("ADMIN")];
  // A price, so tagged spend is a visible amount.
  const root = t.client(await t.login());
  await root.models.upsert.mutate({ name: "priced", targets: [{ provider: "beta", upstreamModel: "beta-model" }], inputPricePerMTok: 1_000, outputPricePerMTok: 2_000 });
}, 120_000);
afterAll(async () => {
  await t?.close();
  await up?.close();
});

const chat = (token: string, tags: string | undefined, model = "priced") =>
  fetch(`${t.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json", ...(tags === undefined ? {} : { "x-switchboard-tags": tags }) },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }] }),
  });

/** logs.list until a row with this request id is written (the writer flushes in the background). */
async function rowOf(token: string, requestId: string, filter: Record<string, unknown> = {}) {
  for (let i = 0; i < 100; i++) {
    const res = await trpcQuery(t.url, "logs.list", { limit: 100, ...filter }, bearer(token));
    const row = (res.body.result.data.items as Array<{ requestId: string; tags: string[] }>).find((r) => r.requestId === requestId);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log row for ${requestId}`);
}

describe("x-switchboard-tags", () => {
  it("labels the request's log row, trimmed and each once, in the order sent", async () => {
    const res = await chat(user.token, " team:search, feature=summary ,team:search,,env/prod ");
    expect(res.status).toBe(200);
    const row = await rowOf(user.token, res.headers.get("x-request-id")!);
    expect(row.tags).toEqual(["team:search", "feature=summary", "env/prod"]);
    expect((await trpcQuery(t.url, "logs.get", { id: (row as unknown as { id: string }).id }, bearer(user.token))).body.result.data.tags).toEqual(["team:search", "feature=summary", "env/prod"]);
  });

  it("labels tRPC calls too, and a request without the header has no tags", async () => {
    const sent = await trpcMutation(t.url, "chat.send", { message: "hi", model: "priced" }, { ...bearer(user.token), "x-switchboard-tags": "surface:trpc" });
    expect(sent.status).toBe(200);
    expect((await rowOf(user.token, sent.headers.get("x-request-id")!)).tags).toEqual(["surface:trpc"]);
    const plain = await chat(user.token, undefined);
    expect((await rowOf(user.token, plain.headers.get("x-request-id")!)).tags).toEqual([]);
  });

  it("labels each chat on a WebSocket with its upgrade request's tags", async () => {
    const events = await socketChat(t.url, user.token, { message: "hi", model: "priced" }, { "x-switchboard-tags": "surface:ws" });
    expect(events.at(-1)?.type).toBe("chat_complete");
    let rows: Array<{ route: string; tags: string[] }> = [];
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      rows = (await trpcQuery(t.url, "logs.list", { tag: "surface:ws" }, bearer(user.token))).body.result.data.items;
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(rows).toEqual([expect.objectContaining({ route: "/ws/chat", tags: ["surface:ws"] })]);
  });

  it.each([
    ["a character outside the set", "team search"],
    ["a tag over 64 characters", "x".repeat(65)],
    ["more than 10 tags", Array.from({ length: 11 }, (_, i) => `t${i}`).join(",")],
  ])("refuses %s with a 400 naming the header, before anything goes upstream", async (_label, tags) => {
    const before = up.fakes.beta.requests.length;
    const res = await chat(user.token, tags);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { type: string; param: string; message: string } };
    expect(error).toMatchObject({ type: "invalid_request_error", param: "x-switchboard-tags", message: expect.stringContaining("x-switchboard-tags") });
    const trpc = await trpcMutation(t.url, "chat.send", { message: "hi" }, { ...bearer(user.token), "x-switchboard-tags": tags });
    expect(trpc.status).toBe(400);
    expect(up.fakes.beta.requests).toHaveLength(before);
  });
});

describe("where tags are not kept", () => {
  it("an anonymous request keeps none (it cannot add to a tag's figures), and operations endpoints ignore the header", async () => {
    const anonymous = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-switchboard-tags": "team:anyone" },
      body: JSON.stringify({ model: "priced", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(anonymous.status).toBe(401);
    expect((await rowOf(admin.token, anonymous.headers.get("x-request-id")!)).tags).toEqual([]);
    for (const path of ["/health", "/ready", "/metrics"]) {
      expect((await fetch(`${t.url}${path}`, { headers: { "x-switchboard-tags": "not a tag" } })).status, path).toBe(200);
    }
  });
});

describe("an API key's tags", () => {
  it("go on every request made with the key, before the request's own, and follow the key's changes", async () => {
    const keys = t.client(user.token).keys;
    const key = await keys.create.mutate({ name: "payments app", tags: ["team:payments", "env=prod", "team:payments"] });
    expect(key.tags).toEqual(["team:payments", "env=prod"]);
    const first = await chat(key.key, "feature=refunds, env=prod");
    expect((await rowOf(user.token, first.headers.get("x-request-id")!)).tags).toEqual(["team:payments", "env=prod", "feature=refunds"]);
    await keys.update.mutate({ id: key.id, tags: ["team:billing"] });
    const second = await chat(key.key, undefined);
    expect((await rowOf(user.token, second.headers.get("x-request-id")!)).tags).toEqual(["team:billing"]);
    // The same user signed in (not through the key) carries only what the request says.
    const signedIn = await chat(user.token, undefined);
    expect((await rowOf(user.token, signedIn.headers.get("x-request-id")!)).tags).toEqual([]);
  });

  it("are refused as a request's would be: malformed or more than 10, a 400 naming the field", async () => {
    const created = await trpcMutation(t.url, "keys.create", { name: "bad", tags: ["no spaces"] }, bearer(user.token));
    expect(created.status).toBe(400);
    const tooMany = await trpcMutation(t.url, "keys.create", { name: "many", tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, bearer(user.token));
    expect(tooMany.status).toBe(400);
  });
});

describe("filtering by tag", () => {
  it("logs.list finds the tagged requests only; a USER only their own, an ADMIN everyone's", async () => {
    const mine = await chat(user.token, "campaign:spring");
    const theirs = await chat(other.token, "campaign:spring");
    const untagged = await chat(user.token, "campaign:autumn");
    const [mineId, theirsId] = [mine.headers.get("x-request-id")!, theirs.headers.get("x-request-id")!];
    await rowOf(admin.token, theirsId);
    await rowOf(admin.token, untagged.headers.get("x-request-id")!);
    const listed = async (token: string) =>
      ((await trpcQuery(t.url, "logs.list", { tag: "campaign:spring", limit: 100 }, bearer(token))).body.result.data.items as Array<{ requestId: string }>).map((r) => r.requestId).sort();
    expect(await listed(admin.token)).toEqual([mineId, theirsId].sort());
    expect(await listed(user.token)).toEqual([mineId]);
    const bad = await trpcQuery(t.url, "logs.list", { tag: "no spaces" }, bearer(admin.token));
    expect(bad.status).toBe(400);
  });

  it("usage.summary counts a tag's requests and what they cost, grouped any way", async () => {
    const tag = `team:${Date.now()}`;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await chat(user.token, `${tag},extra`)).headers.get("x-request-id")!);
    await chat(user.token, "team:someone-else");
    for (const id of ids) await rowOf(user.token, id);
    const summary = (await trpcQuery(t.url, "usage.summary", { groupBy: "model", tag }, bearer(user.token))).body.result.data;
    expect(summary.total.requests).toBe(3);
    expect(summary.total.costUsd).toBeGreaterThan(0);
    expect(summary.groups).toEqual([expect.objectContaining({ key: "priced", requests: 3, costUsd: summary.total.costUsd })]);
    const all = (await trpcQuery(t.url, "usage.summary", { groupBy: "model" }, bearer(user.token))).body.result.data;
    expect(all.total.requests).toBeGreaterThan(3);
    // Another user's view of the same tag holds none of these.
    expect((await trpcQuery(t.url, "usage.summary", { groupBy: "user", tag }, bearer(other.token))).body.result.data.total.requests).toBe(0);
  });
});
