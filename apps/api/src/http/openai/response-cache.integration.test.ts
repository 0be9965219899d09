/**
 * The response cache as the official `openai` SDK meets it: a request that asks for it
 * (`x-switchboard-cache-ttl`) and is asked again by the same user, exactly, is answered
 * without calling a provider — streamed or not, whichever way the first was asked, on any
 * instance of a fleet sharing Redis, and in the embedded default — logged as a cache hit that
 * cost nothing and saved what its miss cost (on its row and in usage.summary); another user, another request or the kept time passing is a miss; the
 * request's own Cache-Control asks a provider's answer instead (no-cache) or keeps nothing
 * (no-store); a route's cacheTtlSec caches the requests it serves without their asking;
 * `cache.purge` forgets a user's or everyone's kept answers on every instance.
 */
import { randomUUID } from "node:crypto";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFleet, startTestApp, type TestApp, type TestFleet } from "../../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { startTcpProxy, testRedisUrl, uniquePrefix } from "../../../test/redis.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let fleet: TestFleet;
let t: TestApp;
let t2: TestApp;
let up: Upstreams<"beta">;
let token: string;
let sdk: OpenAI;
const prefix = uniquePrefix("response-cache");
const cached = (seconds: number) => ({ headers: { "x-switchboard-cache-ttl": String(seconds) } });

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  const env = { ...up.env, CHAT_RATE_LIMIT_PER_MIN: "1000" };
  fleet = await startFleet({ env, prefix, appOptions: { requestLogFlushMs: 50 } });
  ({ a: t, b: t2 } = fleet);
  token = (await t.userWithRole("USER")).token;
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 });
  // A price, so that what a hit did not cost shows.
  const root = t.client(await t.login());
  await root.models.upsert.mutate({ name: "priced", targets: [{ provider: "beta", upstreamModel: "beta-model" }], inputPricePerMTok: 1_000, outputPricePerMTok: 2_000 });
}, 120_000);
afterAll(async () => {
  await fleet?.close();
  await up?.close();
});
afterEach(() => up.reset());

const question = (text: string) => ({ model: "priced", messages: [{ role: "user" as const, content: text }] });

/** The request-log row of a request id (the writer flushes in the background). */
interface Row { requestId: string; cacheHit: boolean; costUsd: number; cacheSavedUsd: number; provider: string | null }
async function rowOf(requestId: string): Promise<Row> {
  for (let i = 0; i < 100; i++) {
    const items = (await trpcQuery(t.url, "logs.list", { limit: 100 }, bearer(token))).body.result.data.items as Row[];
    const row = items.find((r) => r.requestId === requestId);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log row for ${requestId}`);
}

describe("x-switchboard-cache-ttl on /v1/chat/completions", () => {
  it("answers the same request again from the cache, on another instance too, logged as a hit that cost nothing", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "Paris is the capital." });
    const first = await sdk.chat.completions.create(question("Capital of France?"), cached(60)).withResponse();
    expect(first.response.headers.get("x-switchboard-cache")).toBe("miss");
    const onSecond = new OpenAI({ baseURL: `${t2.url}/v1`, apiKey: token, maxRetries: 0 });
    const again = await onSecond.chat.completions.create(question("Capital of France?"), cached(60)).withResponse();
    expect(again.response.headers.get("x-switchboard-cache")).toBe("hit");
    expect(again.data.choices).toEqual(first.data.choices);
    expect(again.data.usage).toEqual(first.data.usage);
    expect(up.fakes.beta.requests).toHaveLength(1);

    const [missRow, hitRow] = [await rowOf(first.response.headers.get("x-request-id")!), await rowOf(again.response.headers.get("x-request-id")!)];
    expect(missRow).toMatchObject({ cacheHit: false, provider: "beta" });
    expect(missRow.costUsd).toBeGreaterThan(0);
    expect(hitRow).toMatchObject({ cacheHit: true, costUsd: 0, provider: null });
    // The hit saved what the miss cost (the same answer at the same route's prices): on its
    // row, and in the caller's usage, where it adds up per model, key or day.
    expect(missRow.cacheSavedUsd).toBe(0);
    expect(hitRow.cacheSavedUsd).toBeCloseTo(missRow.costUsd, 9);
    const usage = await t.client(token).usage.summary.query({ groupBy: "model" });
    expect(usage.total).toMatchObject({ requests: 2, cacheHits: 1 });
    expect(usage.total.cacheSavedUsd).toBeCloseTo(missRow.costUsd, 9);
    expect(usage.groups).toEqual([expect.objectContaining({ key: "priced", requests: 2, cacheHits: 1, costUsd: usage.total.costUsd, cacheSavedUsd: usage.total.cacheSavedUsd })]);
    // Each instance counts what it looked up: a miss on the first, a hit on the second.
    const counted = async (url: string, result: string) => Number(new RegExp(`switchboard_response_cache_requests_total\\{result="${result}"\\} (\\d+)`).exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
    expect(await counted(t.url, "miss")).toBeGreaterThanOrEqual(1);
    expect(await counted(t2.url, "hit")).toBeGreaterThanOrEqual(1);
    // The fleet's summary (the dashboard's Cache hits) adds both instances up.
    const admin = t.client(await t.login());
    // (Each instance publishes its figures within moments.)
    await expect.poll(async () => (await admin.metrics.summary.query()).cache.hits).toBeGreaterThanOrEqual(1);
    const cache = (await admin.metrics.summary.query()).cache;
    expect(cache.misses).toBeGreaterThanOrEqual(1);
    expect(cache.hitRate).toBeGreaterThan(0);
    // The hit saved what the miss cost: the same answer at the same route's prices.
    expect(cache.savedUsd).toBeCloseTo(missRow.costUsd, 9);
    const saved = Number(/^switchboard_response_cache_saved_usd_total (\S+)$/m.exec(await (await fetch(`${t2.url}/metrics`)).text())?.[1]);
    expect(saved).toBeCloseTo(missRow.costUsd, 9);
  });

  it("is a miss for a request that differs, for another user, without the header, and once the kept time has passed", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "answer" });
    await sdk.chat.completions.create(question("Once"), cached(1));
    await sdk.chat.completions.create({ ...question("Once"), temperature: 0.5 }, cached(1));
    const other = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: (await t.userWithRole("USER")).token, maxRetries: 0 });
    await other.chat.completions.create(question("Once"), cached(1));
    await sdk.chat.completions.create(question("Once"));
    expect(up.fakes.beta.requests).toHaveLength(4);
    // Asked to keep it a second: past it, the provider is asked again.
    await new Promise((r) => setTimeout(r, 1_100));
    const expired = await sdk.chat.completions.create(question("Once"), cached(1)).withResponse();
    expect(expired.response.headers.get("x-switchboard-cache")).toBe("miss");
    expect(up.fakes.beta.requests).toHaveLength(5);
  });

  it("replays a kept answer as a stream, tool calls included, and keeps a streamed answer for a plain request", async () => {
    const weather = { type: "function" as const, function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
    up.fakes.beta.setDefault({ kind: "ok", content: "", toolCalls: [{ id: "call_1", name: "weather", arguments: '{"city":"Oslo"}' }], finishReason: "tool_calls" });
    const asked = { ...question("Weather in Oslo?"), tools: [weather] };
    const plain = await sdk.chat.completions.create(asked, cached(60));
    // The same request streamed: the kept answer, as chunks the SDK joins back together.
    const stream = sdk.chat.completions.stream({ ...asked, stream: true }, cached(60));
    const replay = await stream.finalChatCompletion();
    expect(replay.choices[0]!.message.tool_calls).toEqual(plain.choices[0]!.message.tool_calls);
    expect(replay.choices[0]!.finish_reason).toBe("tool_calls");
    expect(up.fakes.beta.requests).toHaveLength(1);

    // A streamed miss is kept whole: a plain repeat is a hit with the streamed text.
    up.fakes.beta.setDefault({ kind: "ok", content: "streamed, then kept" });
    let text = "";
    for await (const chunk of await sdk.chat.completions.create({ ...question("Stream first"), stream: true }, cached(60))) text += chunk.choices[0]?.delta.content ?? "";
    const after = await sdk.chat.completions.create(question("Stream first"), cached(60)).withResponse();
    expect(after.response.headers.get("x-switchboard-cache")).toBe("hit");
    expect(after.data.choices[0]!.message.content).toBe(text);
    expect(up.fakes.beta.requests).toHaveLength(2);
  });

  it("takes a provider's answer at Cache-Control: no-cache and keeps it in the old one's place; keeps nothing at no-store", async () => {
    const withControl = (control: string) => ({ headers: { ...cached(60).headers, "cache-control": control } });
    up.fakes.beta.enqueue({ kind: "ok", content: "first answer" });
    await sdk.chat.completions.create(question("Refresh me"), cached(60));
    up.fakes.beta.enqueue({ kind: "ok", content: "refreshed answer" });
    const refreshed = await sdk.chat.completions.create(question("Refresh me"), withControl("no-cache")).withResponse();
    expect(refreshed.response.headers.get("x-switchboard-cache")).toBe("refresh");
    expect(refreshed.data.choices[0]!.message.content).toBe("refreshed answer");
    const after = await sdk.chat.completions.create(question("Refresh me"), cached(60)).withResponse();
    expect(after.response.headers.get("x-switchboard-cache")).toBe("hit");
    expect(after.data.choices[0]!.message.content).toBe("refreshed answer");
    expect(up.fakes.beta.requests).toHaveLength(2);

    // no-store: answered (from a kept answer when there is one), nothing kept.
    up.fakes.beta.setDefault({ kind: "ok", content: "not kept" });
    const unkept = await sdk.chat.completions.create(question("Keep nothing"), withControl("No-Store, private")).withResponse();
    expect(unkept.response.headers.get("x-switchboard-cache")).toBe("miss");
    expect((await sdk.chat.completions.create(question("Keep nothing"), cached(60)).withResponse()).response.headers.get("x-switchboard-cache")).toBe("miss");
    expect((await sdk.chat.completions.create(question("Refresh me"), withControl("no-store")).withResponse()).response.headers.get("x-switchboard-cache")).toBe("hit");
    expect(up.fakes.beta.requests).toHaveLength(4);

    // max-age=0, and HTTP/1.0's Pragma: no-cache, refresh too.
    const maxAge = await sdk.chat.completions.create(question("Refresh me"), withControl("max-age=0")).withResponse();
    expect(maxAge.response.headers.get("x-switchboard-cache")).toBe("refresh");
    const pragma = await sdk.chat.completions.create(question("Refresh me"), { headers: { ...cached(60).headers, pragma: "no-cache" } }).withResponse();
    expect(pragma.response.headers.get("x-switchboard-cache")).toBe("refresh");
    // A refresh whose answer cannot be kept (filtered) forgets the kept one: it was asked away.
    up.fakes.beta.enqueue({ kind: "ok", content: "filtered", finishReason: "content_filter" });
    await sdk.chat.completions.create(question("Refresh me"), withControl("no-cache"));
    const requests = up.fakes.beta.requests.length;
    expect((await sdk.chat.completions.create(question("Refresh me"), cached(60)).withResponse()).response.headers.get("x-switchboard-cache")).toBe("miss");
    expect(up.fakes.beta.requests).toHaveLength(requests + 1);
  });

  it("serves no answer older than the request allows, none from a frozen provider, and none kept before the route changed", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "kept" });
    await sdk.chat.completions.create(question("How old?"), cached(60));
    await new Promise((r) => setTimeout(r, 1_100));
    // Kept for a minute, but this request accepts one at most a second old.
    expect((await sdk.chat.completions.create(question("How old?"), cached(1)).withResponse()).response.headers.get("x-switchboard-cache")).toBe("miss");
    expect(up.fakes.beta.requests).toHaveLength(2);

    // A provider frozen: its kept answers are not served either (the chain refuses the request).
    const root = await t.login();
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "beta leaks", scope: "provider:beta" }, bearer(root))).status).toBe(200);
    try {
      const refused = await sdk.chat.completions.create(question("How old?"), cached(60)).catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 503 });
    } finally {
      await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root));
    }

    // The route retargeted (here: re-saved, a new configuration): answers kept before are not
    // served. (A question of its own: "How old?" was last kept for one second, which a slow
    // freeze and unfreeze can outlast.)
    await sdk.chat.completions.create(question("How tall?"), cached(60));
    expect((await sdk.chat.completions.create(question("How tall?"), cached(60)).withResponse()).response.headers.get("x-switchboard-cache")).toBe("hit");
    await t.client(root).models.upsert.mutate({ name: "priced", targets: [{ provider: "beta", upstreamModel: "beta-model-2" }], inputPricePerMTok: 1_000, outputPricePerMTok: 2_000 });
    await expect.poll(async () => (await sdk.chat.completions.create(question("How tall?"), cached(60)).withResponse()).response.headers.get("x-switchboard-cache")).toBe("miss");
    expect(up.fakes.beta.requests.at(-1)!.body).toMatchObject({ model: "beta-model-2" });
  });

  it("keeps no answer a choice of which was filtered or did not finish: the next try may differ", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "", finishReason: "content_filter" });
    await sdk.chat.completions.create(question("Filtered?"), cached(60));
    const again = await sdk.chat.completions.create(question("Filtered?"), cached(60)).withResponse();
    expect(again.response.headers.get("x-switchboard-cache")).toBe("miss");
    expect(up.fakes.beta.requests).toHaveLength(2);
  });

  it("refuses a ttl that is no whole number of seconds from 1 to a day with a 400 naming the header, before calling anyone", async () => {
    for (const bad of ["0", "86401", "1.5", "soon", "-5", "1e3"]) {
      const refused = await sdk.chat.completions.create(question("x"), { headers: { "x-switchboard-cache-ttl": bad } }).catch((e: unknown) => e);
      expect(refused, bad).toMatchObject({ status: 400, param: "x-switchboard-cache-ttl" });
    }
    expect(up.fakes.beta.requests).toHaveLength(0);
  });
});

describe("a route's cacheTtlSec", () => {
  it("caches the requests it serves without their asking; the request's own ttl and Cache-Control still decide; a pinned provider is no route's", async () => {
    const root = t.client(await t.login());
    await root.models.upsert.mutate({ name: "kept", targets: [{ provider: "beta", upstreamModel: "beta-model" }], cacheTtlSec: 300 });
    up.fakes.beta.setDefault({ kind: "ok", content: "kept by the route" });
    const ask = (over: Record<string, string> = {}, model = "kept") => sdk.chat.completions.create({ model, messages: [{ role: "user", content: "Same again?" }] }, { headers: over }).withResponse();
    const first = await ask();
    expect(first.response.headers.get("x-switchboard-cache")).toBe("miss");
    // On the other instance too, as soon as it holds the route's new version.
    const onSecond = new OpenAI({ baseURL: `${t2.url}/v1`, apiKey: token, maxRetries: 0 });
    await expect.poll(async () => (await onSecond.chat.completions.create({ model: "kept", messages: [{ role: "user", content: "Same again?" }] }).withResponse()).response.headers.get("x-switchboard-cache")).toBe("hit");
    expect(up.fakes.beta.requests).toHaveLength(1);

    // Its own ttl wins over the route's: past a second, the answer is too old for a request allowing one.
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await ask({ "x-switchboard-cache-ttl": "1" })).response.headers.get("x-switchboard-cache")).toBe("miss");
    expect(up.fakes.beta.requests).toHaveLength(2);
    // The request's directives hold: no-cache and no-store together go to the provider, and the kept answer is asked away.
    const bypass = await ask({ "cache-control": "no-cache, no-store" });
    expect(bypass.response.headers.get("x-switchboard-cache")).toBe("refresh");
    expect((await ask()).response.headers.get("x-switchboard-cache")).toBe("miss");
    expect((await ask()).response.headers.get("x-switchboard-cache")).toBe("hit");
    expect(up.fakes.beta.requests).toHaveLength(4);
    // Pinned to the provider, it is served by no route: no cache.
    const pinned = await ask({}, "beta");
    expect(pinned.response.headers.get("x-switchboard-cache")).toBeNull();
    expect(up.fakes.beta.requests).toHaveLength(5);

    // Left out of the route again, the cache is used only when asked (a changed route keeps no old answers either).
    await root.models.upsert.mutate({ name: "kept", targets: [{ provider: "beta", upstreamModel: "beta-model" }] });
    const plain = await ask();
    expect(plain.response.headers.get("x-switchboard-cache")).toBeNull();
    expect(up.fakes.beta.requests).toHaveLength(6);
    await root.models.delete.mutate({ name: "kept" });
  });

  it("keeps nothing of a Responses request with store: false, leaves a chat request with store: true to its provider, and counts no miss for a request that failed", async () => {
    const root = t.client(await t.login());
    await root.models.upsert.mutate({ name: "kept-terms", targets: [{ provider: "beta", upstreamModel: "beta-model" }], cacheTtlSec: 300 });
    up.fakes.beta.setDefault({ kind: "ok", content: "private answer" });
    for (let i = 0; i < 2; i++) {
      const unstored = await sdk.responses.create({ model: "kept-terms", input: "Nothing kept, please", store: false }).withResponse();
      expect(unstored.response.headers.get("x-switchboard-cache")).toBe("miss");
    }
    expect(up.fakes.beta.requests).toHaveLength(2);
    // Stored completions: the provider keeps a record of the call, so the route's cache steps aside.
    for (let i = 0; i < 2; i++) {
      const stored = await sdk.chat.completions.create({ model: "kept-terms", messages: [{ role: "user", content: "Keep a record" }], store: true }).withResponse();
      expect(stored.response.headers.get("x-switchboard-cache")).toBeNull();
    }
    expect(up.fakes.beta.requests).toHaveLength(4);

    const misses = async () => Number(/^switchboard_response_cache_requests_total\{result="miss"\} (\d+)$/m.exec(await (await fetch(`${t.url}/metrics`)).text())?.[1] ?? 0);
    const before = await misses();
    up.fakes.beta.enqueue({ kind: "status", status: 500 });
    const failed = await sdk.chat.completions.create({ model: "kept-terms", messages: [{ role: "user", content: "This one fails" }] }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ status: 502 });
    // Its log row is written when its end is recorded: by then a miss would have been counted.
    await rowOf((failed as InstanceType<typeof OpenAI.APIError>).headers!.get("x-request-id")!);
    expect(await misses()).toBe(before);
    await root.models.delete.mutate({ name: "kept-terms" });
  });

  it("on the default route serves requests for auto; a time that is no whole number of seconds from 1 to a day is a 400 naming the field", async () => {
    const root = t.client(await t.login());
    const auto = (await root.models.list.query({ limit: 100 })).items.find((m) => m.name === "auto")!;
    const targets = auto.targets.map(({ provider, upstreamModel }) => ({ provider, upstreamModel }));
    for (const bad of [0, 1.5, 86_401, -1]) {
      const refused = await trpcMutation(t.url, "models.upsert", { name: "auto", targets, cacheTtlSec: bad }, bearer(await t.login()));
      expect(refused.status, String(bad)).toBe(400);
      expect(refused.body.error.message).toContain("cacheTtlSec");
    }
    expect((await root.models.list.query({ limit: 100 })).items.find((m) => m.name === "auto")!.cacheTtlSec).toBeNull();
    await root.models.upsert.mutate({ name: "auto", targets, cacheTtlSec: 60 });
    try {
      expect((await root.models.list.query({ limit: 100 })).items.find((m) => m.name === "auto")!.cacheTtlSec).toBe(60);
      up.fakes.beta.setDefault({ kind: "ok", content: "from auto" });
      const ask = () => sdk.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "Auto, twice?" }] }).withResponse();
      expect((await ask()).response.headers.get("x-switchboard-cache")).toBe("miss");
      const again = await ask();
      expect(again.response.headers.get("x-switchboard-cache")).toBe("hit");
      expect(again.data.choices[0]!.message.content).toBe("from auto");
    } finally {
      await root.models.upsert.mutate({ name: "auto", targets });
    }
  });
});

describe("x-switchboard-cache-ttl on /v1/responses", () => {
  it("answers the same Responses request from the cache", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "Bonjour" });
    const first = await sdk.responses.create({ model: "priced", input: "Hello in French?" }, cached(60));
    const again = await sdk.responses.create({ model: "priced", input: "Hello in French?" }, cached(60)).withResponse();
    expect(again.response.headers.get("x-switchboard-cache")).toBe("hit");
    expect(again.data.output_text).toBe(first.output_text);
    expect(again.data.id).not.toBe(first.id);
    expect(up.fakes.beta.requests).toHaveLength(1);
  });
});

describe("cache.purge", () => {
  /** Past the purge's slack for instances' clocks: answers kept from now on are served again. */
  const pastSlack = () => new Promise((r) => setTimeout(r, 1100));
  const ask = async (client: OpenAI, text: string) => (await client.chat.completions.create(question(text), cached(600)).withResponse()).response.headers.get("x-switchboard-cache");

  it("forgets a user's kept answers on every instance; an ADMIN forgets another user's or everyone's, a USER only their own", async () => {
    up.fakes.beta.setDefault({ kind: "ok", content: "kept" });
    const other = await t.userWithRole("USER");
    const otherSdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: other.token, maxRetries: 0 });
    const onB = new OpenAI({ baseURL: `${t2.url}/v1`, apiKey: token, maxRetries: 0 });
    expect(await ask(sdk, "purge me")).toBe("miss");
    expect(await ask(otherSdk, "purge me")).toBe("miss");
    expect(await ask(onB, "purge me")).toBe("hit");

    // The user's own purge, made on the other instance: their answer is gone, the other user's stays.
    const own = await trpcMutation(t2.url, "cache.purge", {}, bearer(token));
    expect(own.status).toBe(200);
    expect(own.body.result.data).toMatchObject({ everyone: false });
    await pastSlack();
    expect(await ask(sdk, "purge me")).toBe("miss");
    expect(await ask(otherSdk, "purge me")).toBe("hit");
    // Kept again after the purge: served again.
    expect(await ask(onB, "purge me")).toBe("hit");

    // A USER may not purge another user's, nor everyone's: nothing is forgotten.
    expect((await trpcMutation(t.url, "cache.purge", { userId: other.id }, bearer(token))).status).toBe(403);
    expect((await trpcMutation(t.url, "cache.purge", { everyone: true }, bearer(token))).status).toBe(403);
    expect((await trpcMutation(t.url, "cache.purge", { userId: other.id, everyone: true }, bearer(token))).status).toBe(400);
    expect(await ask(otherSdk, "purge me")).toBe("hit");

    const admin = await t.userWithRole("ADMIN");
    expect((await trpcMutation(t.url, "cache.purge", { userId: other.id }, bearer(admin.token))).body.result.data).toMatchObject({ userId: other.id, everyone: false });
    await pastSlack();
    expect(await ask(otherSdk, "purge me")).toBe("miss");
    expect(await ask(sdk, "purge me")).toBe("hit");

    // An ADMIN's app key purges only its owner's answers, never another user's or everyone's.
    const adminKey = await t.client(admin.token).keys.create.mutate({ name: "app", scopes: ["chat"] });
    expect((await trpcMutation(t.url, "cache.purge", { everyone: true }, bearer(adminKey.key))).status).toBe(403);
    expect((await trpcMutation(t.url, "cache.purge", { userId: other.id }, bearer(adminKey.key))).status).toBe(403);
    expect((await trpcMutation(t.url, "cache.purge", {}, bearer(adminKey.key))).body.result.data).toMatchObject({ userId: admin.id });

    // A user who does not exist: 404, and nothing is purged (a typo never reads as done).
    const nobody = await trpcMutation(t.url, "cache.purge", { userId: randomUUID() }, bearer(admin.token));
    expect(nobody.status).toBe(404);
    expect(nobody.body.error.message).toMatch(/no user has this id/i);
    expect(await ask(otherSdk, "purge me")).toBe("hit");

    expect((await trpcMutation(t2.url, "cache.purge", { everyone: true }, bearer(admin.token))).body.result.data).toMatchObject({ userId: null, everyone: true });
    await pastSlack();
    expect(await ask(sdk, "purge me")).toBe("miss");
    expect(await ask(otherSdk, "purge me")).toBe("miss");
  });
});

describe("a purge while an answer is on its way", () => {
  it("covers it: the answer is dated when it was asked for, not when it arrived", async () => {
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    up.fakes.beta.enqueue({ kind: "wait", until: held, content: "asked before the purge" });
    up.fakes.beta.setDefault({ kind: "ok", content: "asked after the purge" });
    const inFlight = sdk.chat.completions.create(question("in flight across a purge"), cached(600));
    await expect.poll(() => up.fakes.beta.requests.length).toBe(1);
    await trpcMutation(t.url, "cache.purge", {}, bearer(token));
    await new Promise((r) => setTimeout(r, 1100));
    release();
    expect((await inFlight).choices[0]!.message.content).toBe("asked before the purge");
    const next = await sdk.chat.completions.create(question("in flight across a purge"), cached(600)).withResponse();
    expect(next.response.headers.get("x-switchboard-cache")).toBe("miss");
    expect(next.data.choices[0]!.message.content).toBe("asked after the purge");
  });
});

describe("with Redis cut off", () => {
  it("answers a request that asked for the cache as a miss, and the instance stays up", async () => {
    const proxy = await startTcpProxy(testRedisUrl());
    const cut = await startTestApp({ env: { ...up.env, REDIS_URL: proxy.url } });
    try {
      up.fakes.beta.setDefault({ kind: "ok", content: "without the store" });
      const client = new OpenAI({ baseURL: `${cut.url}/v1`, apiKey: (await cut.userWithRole("USER")).token, maxRetries: 0 });
      await proxy.cut();
      await expect.poll(() => cut.app.deps.coordination.state(), { timeout: 20_000 }).toBe("degraded");
      for (let i = 0; i < 3; i++) {
        const answer = await client.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "while Redis is away" }] }, cached(60)).withResponse();
        expect(answer.response.headers.get("x-switchboard-cache")).toBe("miss");
        expect(answer.data.choices[0]!.message.content).toBe("without the store");
      }
    } finally {
      await cut.close();
      await proxy.close();
    }
  });
});

describe("the embedded default", () => {
  it("keeps answers in process", async () => {
    const embedded = await startTestApp({ mode: "embedded", env: { ...up.env } });
    try {
      up.fakes.beta.setDefault({ kind: "ok", content: "kept in process" });
      const client = new OpenAI({ baseURL: `${embedded.url}/v1`, apiKey: (await embedded.userWithRole("USER")).token, maxRetries: 0 });
      await client.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "hi" }] }, cached(60));
      const again = await client.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "hi" }] }, cached(60)).withResponse();
      expect(again.response.headers.get("x-switchboard-cache")).toBe("hit");
      expect(again.data.choices[0]!.message.content).toBe("kept in process");
      expect(up.fakes.beta.requests).toHaveLength(1);
      // A purge holds in process too.
      await embedded.client((await embedded.login())).cache.purge.mutate({ everyone: true });
      const purged = await client.chat.completions.create({ model: "beta", messages: [{ role: "user", content: "hi" }] }, cached(60)).withResponse();
      expect(purged.response.headers.get("x-switchboard-cache")).toBe("miss");
      expect(up.fakes.beta.requests).toHaveLength(2);
    } finally {
      await embedded.close();
    }
  });
});
