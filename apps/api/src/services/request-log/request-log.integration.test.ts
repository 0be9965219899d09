/**
 * The request log and spend, end to end on two instances sharing PostgreSQL and Redis:
 * every gateway request is recorded (batched, off the request path) with what it asked,
 * who answered, tokens and cost — over HTTP and over WebSockets; streamed answers keep the
 * answer they add up to when bodies are kept (instance a only); users read only their own
 * rows; usage sums them; a key over its budget is refused with insufficient_quota on every
 * instance.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createSwitchboardClient } from "@switchboard/client";
import { CHAT_LIMITS, type TChatStreamEvent } from "@switchboard/schema";
import { priceAutoRoute, startTestApp, type TestApp } from "../../../test/app.ts";
import { startFakeOpenAI } from "../../../test/fake-openai-server.ts";
import { parsePrometheusText, samplesNamed } from "../../../test/prometheus-parser.ts";
import { collectEvents } from "../../../test/subscription.ts";
import { socketChat } from "../../../test/chat.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../../test/redis.ts";
import { requestLogRow } from "../../../test/request-log-row.ts";

const prefix = uniquePrefix("reqlog");
let a: TestApp;
let b: TestApp;
let user: { id: string; email: string; token: string };
let other: { id: string; email: string; token: string };
let admin: { id: string; email: string; token: string };

beforeAll(async () => {
  const appOptions = { requestLogFlushMs: 100 };
  a = await startTestApp({ redisKeyPrefix: prefix, appOptions, env: { REQUEST_LOG_BODIES: "true" } });
  b = await startTestApp({ databaseUrl: a.app.deps.env.DATABASE_URL!, redisKeyPrefix: prefix, appOptions });
  user = await a.userWithRole("USER");
  other = await a.userWithRole("USER");
  admin = await a.userWithRole("ADMIN");
  // Price the default route, so one offline template answer costs a visible amount.
  await priceAutoRoute(a.client(await a.login()));
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await deleteKeysWithPrefix(prefix);
});

async function chat(app: TestApp, key: string, body: Record<string, unknown> = {}) {
  const res = await fetch(`${app.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hello there" }], ...body }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The `data:` payloads of an SSE body, [DONE] left out. */
function sseData(text: string): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: ") && block !== "data: [DONE]")
    .map((block) => JSON.parse(block.slice("data: ".length)));
}

/**
 * Sends until the answer has status `want`, for up to 10 s; returns the last answer. What
 * spend and budget changes do reaches the instance that made them at once and the others by
 * push, within moments; the wait is bounded in time rather than in tries, as each try is a
 * whole request.
 */
async function sendUntil(want: number, send: () => Promise<Awaited<ReturnType<typeof chat>>>) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await send();
    if (res.status === want || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const detailOf = async (token: string, id: string) => (await trpcQuery(a.url, "logs.get", { id }, bearer(token))).body.result.data;

/** Polls logs.list until `match` finds a row (the writer flushes in the background). */
async function logged(token: string, input: Record<string, unknown>, match: (row: any) => boolean) { // eslint-disable-line @typescript-eslint/no-explicit-any
  for (let i = 0; i < 100; i++) {
    const res = await trpcQuery(a.url, "logs.list", { limit: 100, ...input }, bearer(token));
    expect(res.status).toBe(200);
    const row = res.body.result.data.items.find(match);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log row for ${JSON.stringify(input)}`);
}

describe("request log", () => {
  it("records the prompt tokens a provider served from its cache and prices them at the cached rate", async () => {
    const upstream = await startFakeOpenAI({
      name: "cachey",
      defaultBehavior: { kind: "ok", content: "cached answer", usageDetails: { prompt_tokens_details: { cached_tokens: 5 } } },
    });
    try {
      const root = a.client(await a.login());
      await root.providers.create.mutate({ name: "cachey", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-cachey-0123456789", models: ["cachey-1"] });
      await root.models.upsert.mutate({
        name: "cachey-model",
        targets: [{ provider: "cachey", upstreamModel: "cachey-1" }],
        inputPricePerMTok: 1_000,
        cachedInputPricePerMTok: 100,
        outputPricePerMTok: 2_000,
      });
      const res = await fetch(`${a.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...bearer(user.token), "content-type": "application/json" },
        body: JSON.stringify({ model: "cachey-model", messages: [{ role: "user", content: "what is cached?" }] }),
      });
      expect(res.status).toBe(200);
      const row = await logged(user.token, { model: "cachey-model" }, () => true);
      expect(row).toMatchObject({ provider: "cachey", upstreamModel: "cachey-1", promptTokens: 7, cachedTokens: 5 });
      // 2 uncached prompt tokens at 1,000 $/MTok, 5 cached at 100, the completion at 2,000.
      expect(row.costUsd).toBeCloseTo((2 * 1_000 + 5 * 100 + row.completionTokens * 2_000) / 1e6, 10);
    } finally {
      await upstream.close();
    }
  });

  it("prices every call at its own route: a tRPC batch asking two models, a call pinned to a provider", async () => {
    const upstream = await startFakeOpenAI({ name: "priced", defaultBehavior: { kind: "ok", content: "a priced answer" } });
    try {
      const root = a.client(await a.login());
      for (const name of ["cheapo", "dearo"]) {
        await root.providers.create.mutate({ name, kind: "openai-compatible", baseUrl: upstream.url, apiKey: `sk-${name}-0123456789`, models: [`${name}-1`] });
      }
      await root.models.upsert.mutate({ name: "cheap-model", targets: [{ provider: "cheapo", upstreamModel: "cheapo-1" }], inputPricePerMTok: 1_000, outputPricePerMTok: 2_000 });
      await root.models.upsert.mutate({ name: "dear-model", targets: [{ provider: "dearo", upstreamModel: "dearo-1" }], inputPricePerMTok: 30_000, outputPricePerMTok: 60_000 });
      const caller = await a.userWithRole("USER");
      const client = a.client(caller.token);
      const priced = (attempt: { promptTokens: number; completionTokens: number }, input: number, output: number) =>
        (attempt.promptTokens * input + attempt.completionTokens * output) / 1e6;

      // Called in the same tick: one HTTP request, one request-log row, two upstream calls.
      await Promise.all([client.chat.send.mutate({ message: "cheap please", model: "cheap-model" }), client.chat.send.mutate({ message: "dear please", model: "dear-model" })]);
      const batch = await logged(caller.token, {}, (r) => r.route === "chat.send,chat.send");
      const batchDetail = await detailOf(caller.token, batch.id);
      const byProvider = Object.fromEntries(batchDetail.attempts.map((t: { provider: string }) => [t.provider, t]));
      expect(Object.keys(byProvider).sort()).toEqual(["cheapo", "dearo"]);
      expect(batch.costUsd).toBeCloseTo(priced(byProvider.cheapo, 1_000, 2_000) + priced(byProvider.dearo, 30_000, 60_000), 10);

      // Pinned to a provider, no route named: billed at the route that sends it that model.
      await client.chat.send.mutate({ message: "pinned please", provider: "dearo" });
      const pinned = await logged(caller.token, {}, (r) => r.id !== batch.id && r.provider === "dearo");
      const pinnedDetail = await detailOf(caller.token, pinned.id);
      expect(pinnedDetail.attempts).toEqual([expect.objectContaining({ provider: "dearo", outcome: "success" })]);
      expect(pinned.costUsd).toBeGreaterThan(0);
      expect(pinned.costUsd).toBeCloseTo(priced(pinnedDetail.attempts[0], 30_000, 60_000), 10);

      // A reply refused as empty was still billed upstream: the row counts its prompt too.
      const empty = await startFakeOpenAI({ name: "emptyo" });
      try {
        const reply = { id: "c", object: "chat.completion", model: "emptyo-1", choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: null }], usage: { prompt_tokens: 9, completion_tokens: 0 } };
        empty.setDefault({ kind: "status", status: 200, body: JSON.stringify(reply) });
        await root.providers.create.mutate({ name: "emptyo", kind: "openai-compatible", baseUrl: empty.url, apiKey: "sk-emptyo-0123456789", models: ["emptyo-1"] });
        await root.models.upsert.mutate({ name: "flaky-model", targets: [{ provider: "emptyo", upstreamModel: "emptyo-1" }, { provider: "cheapo", upstreamModel: "cheapo-1" }], inputPricePerMTok: 5_000, outputPricePerMTok: 5_000 });
        await client.chat.send.mutate({ message: "anyone there?", model: "flaky-model" });
        const fellOver = await logged(caller.token, { model: "flaky-model" }, () => true);
        const attempts = (await detailOf(caller.token, fellOver.id)).attempts;
        expect(attempts).toEqual([
          expect.objectContaining({ provider: "emptyo", outcome: "malformed", promptTokens: 9, completionTokens: 0 }),
          expect.objectContaining({ provider: "cheapo", outcome: "success" }),
        ]);
        expect(fellOver.promptTokens).toBe(9 + attempts[1].promptTokens);
        expect(fellOver.costUsd).toBeCloseTo(priced(attempts[0], 5_000, 5_000) + priced(attempts[1], 5_000, 5_000), 10);

        // GET /metrics says the same by provider: each call at its route's price, the refused one included.
        const spent = async () => {
          const families = parsePrometheusText(await (await fetch(`${a.url}/metrics`)).text());
          return Object.fromEntries(samplesNamed(families, "switchboard_provider_spend_usd_total").map((x) => [x.labels["provider"], Number(x.value)]));
        };
        const byCall = {
          cheapo: priced(byProvider.cheapo, 1_000, 2_000) + priced(attempts[1], 5_000, 5_000),
          dearo: priced(byProvider.dearo, 30_000, 60_000) + priced(pinnedDetail.attempts[0], 30_000, 60_000),
          emptyo: priced(attempts[0], 5_000, 5_000),
        };
        // Counted as each row is recorded, which the rows above already were.
        const metric = await spent();
        for (const [provider, usd] of Object.entries(byCall)) expect(metric[provider], provider).toBeCloseTo(usd, 10);
      } finally {
        await empty.close();
      }
    } finally {
      await upstream.close();
    }
  });

  it("books an upstream's unbelievable usage as an estimate: the row is written, the spend stays a number", async () => {
    const upstream = await startFakeOpenAI({ name: "boastful" });
    try {
      // 1e309 parses as Infinity; a negative and a fractional count are no counts either.
      const reply = (usage: string) => `{"id":"c","object":"chat.completion","model":"boastful-1","choices":[{"index":0,"message":{"role":"assistant","content":"twelve chars"},"finish_reason":"stop"}],"usage":${usage}}`;
      upstream.enqueue({ kind: "status", status: 200, body: reply('{"prompt_tokens":1e309,"completion_tokens":-5,"prompt_tokens_details":{"cached_tokens":1e309}}') });
      upstream.enqueue({ kind: "status", status: 200, body: reply('{"prompt_tokens":2.5,"completion_tokens":300000000}') });
      const root = a.client(await a.login());
      await root.providers.create.mutate({ name: "boastful", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-boastful-0123456789", models: ["boastful-1"] });
      await root.models.upsert.mutate({ name: "boastful-model", targets: [{ provider: "boastful", upstreamModel: "boastful-1" }], inputPricePerMTok: 1_000, outputPricePerMTok: 1_000 });
      const caller = await a.userWithRole("USER");
      for (const _ of [1, 2]) expect((await chat(a, caller.token, { model: "boastful-model" })).status).toBe(200);

      const rows = await (async () => {
        for (let i = 0; i < 100; i++) {
          const items = (await trpcQuery(a.url, "logs.list", { limit: 10, model: "boastful-model" }, bearer(caller.token))).body.result.data.items;
          if (items.length === 2) return items;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error("the two rows were not written");
      })();
      for (const row of rows) {
        // "hello there" is 11 characters (3 tokens estimated), "twelve chars" 12 (3).
        expect(row).toMatchObject({ status: 200, promptTokens: 3, completionTokens: 3 });
        expect(row.costUsd).toBeCloseTo((3 * 1_000 + 3 * 1_000) / 1e6, 10);
      }
      const families = parsePrometheusText(await (await fetch(`${a.url}/metrics`)).text());
      const spent = samplesNamed(families, "switchboard_provider_spend_usd_total").find((x) => x.labels["provider"] === "boastful");
      expect(Number(spent?.value)).toBeCloseTo(2 * (6 * 1_000) / 1e6, 10);
    } finally {
      await upstream.close();
    }
  });

  it("users.list shows each user's spend in their budget period, pruned rows included", async () => {
    const root = a.client(await a.login());
    const spender = await a.userWithRole("USER");
    const prisma = a.app.deps.db.prisma;
    const at = (msAgo: number) => new Date(Date.now() - msAgo);
    // Yesterday's spend and today's, straight into the log; one more row past retention.
    for (const [createdAt, costUsd] of [[at(26 * 3600_000), 5], [at(0), 0.25], [at(40 * 86_400_000), 100]] as const) {
      await prisma.requestLog.create({ data: { requestId: `spend-${costUsd}`, createdAt, userId: spender.id, method: "POST", route: "/v1/chat/completions", status: 200, latencyMs: 1, costUsd } });
    }
    const spendOf = async () => (await root.users.list.query({ search: spender.email })).items.find((u) => u.id === spender.id)!.spendUsd;
    await root.users.update.mutate({ id: spender.id, budgetUsd: 1, budgetPeriod: "day" });
    expect(await spendOf()).toBeCloseTo(0.25, 10);
    await root.users.update.mutate({ id: spender.id, budgetPeriod: "total" });
    expect(await spendOf()).toBeCloseTo(105.25, 10);
    // Pruned: the old row leaves the log, its cost stays counted.
    expect(await a.app.deps.requestLog.prune()).toBeGreaterThanOrEqual(1);
    expect(await spendOf()).toBeCloseTo(105.25, 10);
  });

  it("records a /v1 call made with a key: route, model, provider, tokens, cost, latency", async () => {
    const key = (await a.client(user.token).keys.create.mutate({ name: "logged" })).key;
    const keyId = (await a.client(user.token).keys.list.query()).items.find((k) => key.startsWith(k.prefix))!.id;
    expect((await chat(b, key)).status).toBe(200);
    const row = await logged(user.token, { keyId }, () => true);
    expect(row).toMatchObject({ userId: user.id, keyId, route: "/v1/chat/completions", model: "auto", provider: "template", status: 200, errorCode: null, stream: false });
    expect(row.upstreamModel).toBeTruthy();
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(row.completionTokens).toBeGreaterThan(0);
    expect(row.costUsd).toBeCloseTo((row.promptTokens * 1_000 + row.completionTokens * 2_000) / 1e6, 10);
    expect(row.latencyMs).toBeGreaterThanOrEqual(0);
    const detail = (await trpcQuery(a.url, "logs.get", { id: row.id }, bearer(user.token))).body.result.data;
    expect(detail.attempts).toEqual([expect.objectContaining({ provider: "template", outcome: "success" })]);
    expect(detail.ip).toBe("127.0.0.1");
    // Bodies are stored only where REQUEST_LOG_BODIES=true (instance a), never on b.
    expect(detail.requestBody).toBeNull();
  });

  it("records streams with their time to first token, and tRPC chat calls by procedure", async () => {
    const key = (await a.client(user.token).keys.create.mutate({ name: "streamer" })).key;
    const keyId = (await a.client(user.token).keys.list.query()).items.find((k) => key.startsWith(k.prefix))!.id;
    const streamed = await chat(a, key, { stream: true });
    expect(streamed.status).toBe(200);
    const row = await logged(user.token, { keyId }, (r) => r.stream);
    expect(row.ttftMs).not.toBeNull();
    expect(row.ttftMs).toBeLessThanOrEqual(row.latencyMs);

    await a.client(other.token).chat.send.mutate({ message: "hi" });
    const trpcRow = await logged(other.token, {}, (r) => r.route === "chat.send");
    expect(trpcRow).toMatchObject({ userId: other.id, keyId: null, provider: "template", status: 200 });
  });

  it("stores bodies only when enabled, redacted of secrets", async () => {
    const key = (await a.client(user.token).keys.create.mutate({ name: "bodies" })).key;
    const secret = "sk-live-abcdefghijklmnopqrstuvwx";
    expect((await chat(a, key, { messages: [{ role: "user", content: `my key is ${secret}` }] })).status).toBe(200);
    let found: Awaited<ReturnType<typeof a.app.deps.db.prisma.requestLog.findMany>> = [];
    for (let i = 0; i < 100 && found.length === 0; i++) {
      found = await a.app.deps.db.prisma.requestLog.findMany({ where: { requestBody: { contains: "my key is" } } });
      if (found.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(found.length).toBeGreaterThan(0);
    for (const r of found) {
      expect(r.requestBody).not.toContain(secret);
      expect(r.requestBody).toContain("[REDACTED]");
      expect(r.responseBody).toBeTruthy();
    }
  });

  it("keeps the JSON a chat.send over HTTP answered, as the client received it (refusals too)", async () => {
    const sender = await a.userWithRole("USER");
    const sent = await trpcMutation(a.url, "chat.send", { message: "keep my answer" }, bearer(sender.token));
    expect(sent.status).toBe(200);
    const row = await logged(sender.token, {}, (r) => r.route === "chat.send" && r.status === 200);
    const detail = await detailOf(sender.token, row.id);
    expect(JSON.parse(detail.requestBody)).toEqual({ message: "keep my answer" });
    expect(JSON.parse(detail.responseBody)).toEqual(sent.body);
    expect(sent.body.result.data.content).toBeTruthy();

    const refused = await trpcMutation(a.url, "chat.send", { message: "" }, bearer(sender.token));
    expect(refused.status).toBe(400);
    const refusedRow = await logged(sender.token, { status: 400 }, (r) => r.route === "chat.send");
    expect(JSON.parse((await detailOf(sender.token, refusedRow.id)).responseBody)).toEqual(refused.body);
  });

  it("logs a request whose stored body holds a NUL byte, and the rows written with it", async () => {
    // The body is stored as sent; one NUL made PostgreSQL refuse the whole batch of rows.
    const sender = await a.userWithRole("USER");
    const refused = await fetch(`${a.url}/trpc/chat.send`, {
      method: "POST",
      headers: { ...bearer(sender.token), "content-type": "application/json", "x-request-id": "nul-byte-body" },
      body: Buffer.from('{"message":"a\u0000b"}'),
    });
    expect(refused.status).toBe(400);
    expect((await trpcMutation(a.url, "chat.send", { message: "written alongside" }, bearer(sender.token))).status).toBe(200);
    const row = await logged(sender.token, {}, (r) => r.requestId === "nul-byte-body");
    expect(row).toMatchObject({ status: 400, errorCode: "BAD_REQUEST" });
    expect((await detailOf(sender.token, row.id)).requestBody).toBe('{"message":"ab"}');
    await logged(sender.token, {}, (r) => r.status === 200 && r.route === "chat.send");
  });

  it("a request refused for its model name keeps at most the longest valid name of it in its row", async () => {
    const key = (await a.client(user.token).keys.create.mutate({ name: "long model" })).key;
    const res = await fetch(`${a.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json", "x-request-id": "long-model-name" },
      body: JSON.stringify({ model: "m".repeat(100_000), messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(400);
    const row = await logged(user.token, {}, (r) => r.requestId === "long-model-name");
    expect(row.model).toBe("m".repeat(CHAT_LIMITS.modelNameMaxChars));
  });

  it("records refusals with their status and code, and filters by status", async () => {
    const key = (await a.client(user.token).keys.create.mutate({ name: "narrow", scopes: ["models"] })).key;
    expect((await chat(a, key)).status).toBe(403);
    const row = await logged(user.token, { status: "4xx" }, (r) => r.status === 403);
    expect(row.errorCode).toBe("FORBIDDEN");
  });

  it("searches q as text: %, _ and \\ match themselves, not any characters (list, export and its count alike)", async () => {
    const searcher = await a.userWithRole("USER");
    const tail = Date.now().toString(36);
    for (const id of [`find_me-${tail}`, `findXme-${tail}`]) {
      const res = await fetch(`${a.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...bearer(searcher.token), "content-type": "application/json", "x-request-id": id },
        body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hello there" }] }),
      });
      expect(res.status).toBe(200);
    }
    await logged(searcher.token, { q: `findXme-${tail}` }, () => true);
    await logged(searcher.token, { q: `find_me-${tail}` }, () => true);
    const found = async (q: string) => (await trpcQuery(a.url, "logs.list", { q, limit: 100 }, bearer(searcher.token))).body.result.data.items.map((r: { requestId: string }) => r.requestId);
    expect(await found(`find_me-${tail}`)).toEqual([`find_me-${tail}`]);
    expect(await found("%")).toEqual([]);
    expect(await found("_")).toEqual([`find_me-${tail}`]);
    expect(await found("\\")).toEqual([]);
    expect(await found("find%me")).toEqual([]);
    for (const q of ["%", "find%me", "\\"]) {
      const res = await fetch(`${a.url}/api/logs/export.csv?q=${encodeURIComponent(q)}`, { headers: bearer(searcher.token) });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-switchboard-export-rows"), q).toBe("0");
      expect((await res.text()).trim().split("\n"), q).toHaveLength(1);
    }
  });

  it("keeps a USER to their own rows (another's row is a 404); an ADMIN sees all", async () => {
    const mine = await logged(user.token, {}, () => true);
    const theirs = await trpcQuery(a.url, "logs.list", { userId: user.id }, bearer(other.token));
    expect(theirs.body.result.data.items).toEqual([]);
    expect((await trpcQuery(a.url, "logs.get", { id: mine.id }, bearer(other.token))).status).toBe(404);
    const all = await trpcQuery(a.url, "logs.list", { userId: user.id, limit: 5 }, bearer(admin.token));
    expect(all.body.result.data.items.length).toBeGreaterThan(0);
    // Pagination: a cursor continues where the page ended.
    const page1 = (await trpcQuery(a.url, "logs.list", { limit: 1 }, bearer(admin.token))).body.result.data;
    const page2 = (await trpcQuery(a.url, "logs.list", { limit: 1, cursor: page1.nextCursor }, bearer(admin.token))).body.result.data;
    expect(page2.items[0].id).not.toBe(page1.items[0].id);
  });

  it("usage.summary groups by user, key, model, provider and day", async () => {
    const mine = (await trpcQuery(a.url, "usage.summary", { groupBy: "model" }, bearer(user.token))).body.result.data;
    expect(mine.total.requests).toBeGreaterThan(0);
    expect(mine.groups.find((g: any) => g.key === "auto").costUsd).toBeGreaterThan(0); // eslint-disable-line @typescript-eslint/no-explicit-any
    const byUser = (await trpcQuery(a.url, "usage.summary", { groupBy: "user" }, bearer(admin.token))).body.result.data;
    expect(byUser.groups.map((g: { label: string }) => g.label)).toEqual(expect.arrayContaining([user.email, other.email]));
    const ownOnly = (await trpcQuery(a.url, "usage.summary", { groupBy: "user" }, bearer(user.token))).body.result.data;
    expect(ownOnly.groups.map((g: { key: string }) => g.key)).toEqual([user.id]);
    for (const groupBy of ["key", "provider", "day"]) {
      const res = await trpcQuery(a.url, "usage.summary", { groupBy }, bearer(admin.token));
      expect(res.status, groupBy).toBe(200);
      expect(res.body.result.data.groups.length, groupBy).toBeGreaterThan(0);
    }
    expect((await trpcQuery(a.url, "usage.summary", { groupBy: "week" }, bearer(admin.token))).status).toBe(400);
  });

  it("prunes rows older than the retention", async () => {
    const prisma = a.app.deps.db.prisma;
    const old = await prisma.requestLog.create({
      data: { requestId: "old", createdAt: new Date(Date.now() - 31 * 86_400_000), method: "POST", route: "/v1/chat/completions", status: 200, latencyMs: 1 },
    });
    expect(await a.app.deps.requestLog.prune()).toBeGreaterThanOrEqual(1);
    expect(await prisma.requestLog.findUnique({ where: { id: old.id } })).toBeNull();
  });

  it("refuses a page cursor pruned past the retention with a 404 on every instance, so an export does not end short", async () => {
    const owner = await a.userWithRole("USER");
    const at = (daysAgo: number, ms: number) => new Date(Date.now() - daysAgo * 86_400_000 + ms);
    // Two rows inside the retention, three past it (30 days here).
    const rows = [at(0, -2), at(0, -1), at(35, 3), at(35, 2), at(35, 1)].map((createdAt) => requestLogRow({ userId: owner.id, createdAt }));
    await a.app.deps.db.prisma.requestLog.createMany({ data: rows.map((r) => ({ ...r, tags: [], attempts: [] })) });
    const first = (await trpcQuery(a.url, "logs.list", { userId: owner.id, limit: 3 }, bearer(admin.token))).body.result.data;
    expect(first.items).toHaveLength(3);
    expect(first.nextCursor).toBe(first.items[2].id);
    // The cursor's row is past the retention: pruned while the caller pages.
    expect(await a.app.deps.requestLog.prune()).toBeGreaterThanOrEqual(3);
    for (const app of [a, b]) {
      const next = await trpcQuery(app.url, "logs.list", { userId: owner.id, limit: 3, cursor: first.nextCursor }, bearer(admin.token));
      expect(next.status, JSON.stringify(next.body)).toBe(404);
      expect(next.body.error.message).toMatch(/no longer exists; start again from the first page/);
    }
    // Its owner gets the same answer for their own rows; from the first page, the log as it is now.
    expect((await trpcQuery(a.url, "logs.list", { limit: 3, cursor: first.nextCursor }, bearer(owner.token))).status).toBe(404);
    const again = (await trpcQuery(a.url, "logs.list", { userId: owner.id, limit: 3 }, bearer(admin.token))).body.result.data;
    expect({ rows: again.items.length, nextCursor: again.nextCursor }).toEqual({ rows: 2, nextCursor: null });
  });
});

describe("page cursors of another user's rows", () => {
  it("answers a USER who pages from another user's row id as from a gone one: 404, nothing told of when it was made", async () => {
    const victim = await a.userWithRole("USER");
    const prober = await a.userWithRole("USER");
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    const victimRow = requestLogRow({ userId: victim.id, createdAt: at(30) });
    // The prober's rows on both sides of the victim's: placed by it, the page would say which.
    const proberRows = [60, 45, 15].map((m) => requestLogRow({ userId: prober.id, createdAt: at(m) }));
    await a.app.deps.db.prisma.requestLog.createMany({ data: [victimRow, ...proberRows].map((r) => ({ ...r, tags: [], attempts: [] })) });
    const victimId = (await a.app.deps.db.prisma.requestLog.findFirstOrThrow({ where: { userId: victim.id } })).id;
    const probe = await trpcQuery(a.url, "logs.list", { cursor: victimId, limit: 10 }, bearer(prober.token));
    expect(probe.status, JSON.stringify(probe.body)).toBe(404);
    expect(probe.body.error.message).toMatch(/no longer exists; start again from the first page/);
    // Their own rows page as ever, and an ADMIN may page from anyone's.
    const own = (await trpcQuery(a.url, "logs.list", { limit: 1 }, bearer(prober.token))).body.result.data;
    expect((await trpcQuery(a.url, "logs.list", { cursor: own.nextCursor, limit: 10 }, bearer(prober.token))).body.result.data.items).toHaveLength(2);
    expect((await trpcQuery(a.url, "logs.list", { cursor: victimId, userId: prober.id, limit: 10 }, bearer(admin.token))).body.result.data.items).toHaveLength(2);
  });
});

describe("streams and sockets", () => {
  it("keeps a streamed /v1 answer as the chat.completion it adds up to: text, tool calls, finish reason, usage", async () => {
    const upstream = await startFakeOpenAI({ name: "streamy", defaultBehavior: { kind: "ok", content: "pieces make a whole answer" } });
    try {
      const root = a.client(await a.login());
      await root.providers.create.mutate({ name: "streamy", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-streamy-0123456789", models: ["streamy-1"] });
      await root.models.upsert.mutate({ name: "streamy-model", targets: [{ provider: "streamy", upstreamModel: "streamy-1" }], inputPricePerMTok: 1_000, outputPricePerMTok: 2_000 });
      const streamer = await a.userWithRole("USER");

      const text = await chat(a, streamer.token, { model: "streamy-model", stream: true, stream_options: { include_usage: true } });
      expect(text.status).toBe(200);
      const chunks = sseData(text.text);
      const row = await logged(streamer.token, { model: "streamy-model" }, (r) => r.stream);
      expect(row).toMatchObject({ status: 200, errorCode: null, provider: "streamy", stream: true });
      const body = JSON.parse((await detailOf(streamer.token, row.id)).responseBody);
      expect(body).toMatchObject({ id: chunks[0].id, object: "chat.completion", model: "streamy-1" });
      expect(body.choices).toEqual([
        { index: 0, message: { role: "assistant", content: chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), refusal: null }, logprobs: null, finish_reason: "stop" },
      ]);
      expect(body.choices[0].message.content).toBe("pieces make a whole answer");
      expect(body.usage).toEqual(chunks.at(-1).usage);

      // Tool calls arrive as fragments by index; the log holds them whole, as a plain call answers them.
      const toolCalls = [
        { id: "call_1", name: "lookup", arguments: JSON.stringify({ city: "Paris", units: "metric" }) },
        { id: "call_2", name: "clock", arguments: JSON.stringify({ zone: "Europe/Paris" }) },
      ];
      upstream.setDefault({ kind: "ok", toolCalls });
      const plain = JSON.parse((await chat(a, streamer.token, { model: "streamy-model" })).text);
      expect((await chat(a, streamer.token, { model: "streamy-model", stream: true })).status).toBe(200);
      const toolRow = await logged(streamer.token, { model: "streamy-model" }, (r) => r.stream && r.id !== row.id);
      const toolBody = JSON.parse((await detailOf(streamer.token, toolRow.id)).responseBody);
      expect(toolBody.choices).toEqual(plain.choices);
      expect(toolBody.choices[0]).toMatchObject({ finish_reason: "tool_calls", message: { tool_calls: [expect.objectContaining({ id: "call_1" }), expect.objectContaining({ id: "call_2" })] } });

      // A stream that broke keeps what was sent and the error it ended with.
      upstream.setDefault({ kind: "cut", afterChunks: 2, content: "this answer will be cut short" });
      const cut = await chat(a, streamer.token, { model: "streamy-model", stream: true });
      const received = sseData(cut.text);
      const error = received.at(-1).error;
      expect(error).toBeDefined();
      const cutRow = await logged(streamer.token, { model: "streamy-model" }, (r) => r.stream && r.errorCode !== null);
      const cutBody = JSON.parse((await detailOf(streamer.token, cutRow.id)).responseBody);
      expect(cutBody.choices[0].message.content).toBe(received.map((c) => c.choices?.[0]?.delta.content ?? "").join(""));
      expect(cutBody.choices[0].finish_reason).toBeNull();
      expect(cutBody.error).toEqual(error);
    } finally {
      await upstream.close();
    }
  });

  it("keeps the reply of chat.stream over tRPC's SSE and of /api/chat/stream: the chat_complete the client got", async () => {
    const streamer = await a.userWithRole("USER");
    const events = await collectEvents<TChatStreamEvent>(
      (handlers) => a.client(streamer.token).chat.stream.subscribe({ message: "stream me over trpc" }, handlers),
      (e) => e.type === "chat_complete" || e.type === "error",
    );
    const row = await logged(streamer.token, {}, (r) => r.route === "chat.stream");
    expect(row).toMatchObject({ stream: true, status: 200, errorCode: null });
    expect(JSON.parse((await detailOf(streamer.token, row.id)).responseBody)).toEqual(events.at(-1));

    const legacy = await fetch(`${a.url}/api/chat/stream`, {
      method: "POST",
      headers: { ...bearer(streamer.token), "content-type": "application/json" },
      body: JSON.stringify({ message: "stream me the old way" }),
    });
    const complete = sseData(await legacy.text()).at(-1);
    expect(complete.type).toBe("chat_complete");
    const legacyRow = await logged(streamer.token, {}, (r) => r.route === "/api/chat/stream");
    expect(legacyRow).toMatchObject({ stream: true, status: 200, errorCode: null });
    const legacyBody = JSON.parse((await detailOf(streamer.token, legacyRow.id)).responseBody);
    expect(legacyBody).toMatchObject({ type: "chat_complete", content: complete.content, usage: complete.usage, finishReason: complete.finishReason });
  });

  it("logs each /ws/chat chat as a request: user, key, model, provider, tokens, cost; counted in usage.summary", async () => {
    const talker = await a.userWithRole("USER");
    const messages = await socketChat(a.url, talker.token, { message: "hello over a socket" });
    const complete = messages.at(-1)!;
    expect(complete.type).toBe("chat_complete");
    const row = await logged(talker.token, {}, (r) => r.route === "/ws/chat");
    expect(row).toMatchObject({ userId: talker.id, keyId: null, model: "auto", provider: "template", status: 200, errorCode: null, stream: true });
    expect(row.promptTokens).toBe(complete.usage.promptTokens);
    expect(row.completionTokens).toBe(complete.usage.completionTokens);
    expect(row.costUsd).toBeCloseTo((row.promptTokens * 1_000 + row.completionTokens * 2_000) / 1e6, 10);
    expect(row.costUsd).toBeGreaterThan(0);
    const detail = await detailOf(talker.token, row.id);
    expect(detail).toMatchObject({ method: "WS", ip: "127.0.0.1" });
    expect(detail.attempts).toEqual([expect.objectContaining({ provider: "template", outcome: "success" })]);
    expect(JSON.parse(detail.requestBody)).toMatchObject({ type: "chat", message: "hello over a socket" });
    expect(JSON.parse(detail.responseBody)).toMatchObject({ type: "chat_complete", content: complete.content, usage: complete.usage });

    const usage = (await trpcQuery(a.url, "usage.summary", { groupBy: "user" }, bearer(talker.token))).body.result.data;
    expect(usage.total).toMatchObject({ requests: 1, promptTokens: row.promptTokens, completionTokens: row.completionTokens });
    expect(usage.total.costUsd).toBeCloseTo(row.costUsd, 10);

    // With an API key: the row names it. A refused chat is a row with the status HTTP gives it.
    const key = (await a.client(talker.token).keys.create.mutate({ name: "socket" })).key;
    const keyId = (await a.client(talker.token).keys.list.query()).items.find((k) => key.startsWith(k.prefix))!.id;
    expect((await socketChat(a.url, key, { message: "hello with a key" })).at(-1)!.type).toBe("chat_complete");
    expect(await logged(talker.token, { keyId }, (r) => r.route === "/ws/chat")).toMatchObject({ userId: talker.id, keyId, status: 200 });
    expect((await socketChat(a.url, talker.token, { message: "" })).at(-1)).toMatchObject({ type: "error", code: "BAD_REQUEST" });
    expect(await logged(talker.token, { status: 400 }, (r) => r.route === "/ws/chat")).toMatchObject({ errorCode: "BAD_REQUEST", stream: true, costUsd: 0 });
  });

  it("logs each chat.* call over tRPC's WebSocket as a request of its own (method WS)", async () => {
    const talker = await a.userWithRole("USER");
    const client = createSwitchboardClient({ url: a.url, token: talker.token, transport: "websocket", WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
    const events = await collectEvents<TChatStreamEvent>(
      (handlers) => client.chat.stream.subscribe({ message: "over trpc's socket" }, handlers),
      (e) => e.type === "chat_complete" || e.type === "error",
    );
    const complete = events.at(-1) as Extract<TChatStreamEvent, { type: "chat_complete" }>;
    expect(complete.type).toBe("chat_complete");
    const row = await logged(talker.token, {}, (r) => r.route === "chat.stream");
    expect(row).toMatchObject({ userId: talker.id, provider: "template", status: 200, stream: true, promptTokens: complete.usage.promptTokens, completionTokens: complete.usage.completionTokens });
    expect(row.costUsd).toBeGreaterThan(0);
    const detail = await detailOf(talker.token, row.id);
    expect(detail.method).toBe("WS");
    expect(JSON.parse(detail.responseBody)).toEqual(complete);
    const usage = (await trpcQuery(a.url, "usage.summary", { groupBy: "user" }, bearer(talker.token))).body.result.data;
    expect(usage.total.requests).toBe(1);
  });

  it("stores no bodies for streams and sockets where bodies are off", async () => {
    const quiet = await a.userWithRole("USER");
    expect((await chat(b, quiet.token, { stream: true })).status).toBe(200);
    expect((await socketChat(b.url, quiet.token, { message: "nothing of this is kept" })).at(-1)!.type).toBe("chat_complete");
    const streamed = await logged(quiet.token, {}, (r) => r.route === "/v1/chat/completions");
    const socket = await logged(quiet.token, {}, (r) => r.route === "/ws/chat");
    for (const row of [streamed, socket]) {
      expect(row.stream).toBe(true);
      expect(row.completionTokens).toBeGreaterThan(0);
      expect(await detailOf(quiet.token, row.id)).toMatchObject({ requestBody: null, responseBody: null });
    }
  });
});

describe("budgets", () => {
  it("refuses a key over its budget with insufficient_quota on every instance", async () => {
    const created = await a.client(user.token).keys.create.mutate({ name: "budgeted", budgetUsd: 0.000001, budgetPeriod: "day" });
    expect((await chat(a, created.key)).status).toBe(200);
    const refusedA = await sendUntil(429, () => chat(a, created.key));
    expect(refusedA.status).toBe(429);
    expect(refusedA.headers.get("x-should-retry")).toBe("false");
    expect(JSON.parse(refusedA.text).error.code).toBe("insufficient_quota");
    // The other instance heard of the spend by push.
    expect((await sendUntil(429, () => chat(b, created.key))).status).toBe(429);
    const viaTrpc = await trpcMutation(b.url, "chat.send", { message: "hi" }, bearer(created.key));
    expect(viaTrpc.status).toBe(429);
    // Raising the budget lets it through again.
    await a.client(user.token).keys.update.mutate({ id: created.id, budgetUsd: 1000 });
    expect((await sendUntil(200, () => chat(b, created.key))).status).toBe(200);
    // keys.list reads spend from the request log, which is written in batches off the request path.
    let spendUsd = 0;
    for (let i = 0; i < 100 && spendUsd === 0; i++) {
      spendUsd = (await a.client(user.token).keys.list.query()).items.find((k) => k.id === created.id)!.spendUsd;
      if (spendUsd === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(spendUsd).toBeGreaterThan(0);
  });
});

describe("budgets with requests in flight", () => {
  // One request's cost is known only after it ran: an instance admits a budgeted caller's
  // requests side by side only while the spend plus every request in flight (each priced at
  // the costliest request of the day) fits the budget, then one at a time. Without that, every
  // request sent at once was admitted against the same spend.
  let upstream: Awaited<ReturnType<typeof startFakeOpenAI>>;
  let cost: number;
  let open: () => void = () => {};

  beforeAll(async () => {
    upstream = await startFakeOpenAI({ name: "pricey", defaultBehavior: { kind: "ok", content: "a pricey answer" } });
    const root = a.client(await a.login());
    await root.providers.create.mutate({ name: "pricey-upstream", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-pricey-0123456789", models: ["pricey-1"] });
    // Priced far above anything else this file sends, so it is the costliest request each instance knows.
    await root.models.upsert.mutate({ name: "pricey", targets: [{ provider: "pricey-upstream", upstreamModel: "pricey-1" }], inputPricePerMTok: 100_000, outputPricePerMTok: 100_000 });
    // One request per instance tells each what such a request costs: an unbudgeted one, as
    // every caller's requests set the price (a budgeted caller cannot lower it with cheap ones).
    const calibration = await a.client(user.token).keys.create.mutate({ name: "calibration" });
    for (const app of [a, b]) expect((await chatUntilServed(app, calibration.key, { model: "pricey" })).status).toBe(200);
    cost = (await logged(user.token, { model: "pricey" }, () => true)).costUsd;
    expect(cost).toBeGreaterThan(0);
  }, 60_000);

  afterAll(async () => {
    open();
    await upstream?.close();
  });

  /** The next upstream answers wait until the returned function is called. */
  function holdAnswers(): () => void {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    upstream.setDefault({ kind: "wait", until: gate, content: "a pricey answer" });
    open = release;
    return release;
  }

  /** Sends `count` requests at once on each app; resolves once every one was admitted (reached the upstream) or refused. */
  async function burst(apps: TestApp[], key: string, count: number) {
    const before = upstream.requests.length;
    const refused: Array<Awaited<ReturnType<typeof chat>>> = [];
    const answers = apps.flatMap((app) => Array.from({ length: count }, () => chat(app, key, { model: "pricey" }).then((res) => (res.status === 429 && refused.push(res), res))));
    await expect.poll(() => upstream.requests.length - before + refused.length, { timeout: 10_000 }).toBe(apps.length * count);
    return { admitted: upstream.requests.length - before, refused, answers: Promise.all(answers) };
  }

  /** Sends one request at a time until one is not refused as busy (a request in flight has not been settled yet). */
  async function chatUntilServed(app: TestApp, key: string, body: Record<string, unknown>) {
    for (let i = 0; ; i++) {
      const res = await chat(app, key, body);
      if (res.status !== 429 || JSON.parse(res.text).error.code !== "rate_limit_exceeded" || i === 100) return res;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("one instance admits what fits the budget at once, then one request more at most, and refuses the rest", async () => {
    const key = (await a.client(user.token).keys.create.mutate({ name: "burst", budgetUsd: cost * 2.5, budgetPeriod: "day" })).key;
    const release = holdAnswers();
    const { admitted, refused, answers } = await burst([a], key, 10);
    // Two requests fit 2.5 requests' worth of budget; the eight others are told to retry in a moment.
    expect(admitted).toBe(2);
    for (const res of refused) {
      expect(res.headers.get("retry-after")).toBe("1");
      expect(JSON.parse(res.text).error).toMatchObject({ code: "rate_limit_exceeded", message: expect.stringMatching(/^API key budget nearly spent .*one request at a time/) });
    }
    release();
    expect((await answers).filter((r) => r.status === 200)).toHaveLength(2);
    // Spent: two requests of 2.5. One more is admitted (the one request of overshoot), then the budget is spent.
    expect((await chatUntilServed(a, key, { model: "pricey" })).status).toBe(200);
    const last = await chatUntilServed(a, key, { model: "pricey" });
    expect(last.status).toBe(429);
    expect(JSON.parse(last.text).error.code).toBe("insufficient_quota");
  });

  it("a budget set after spending counts both what was spent before it and what is spent after", async () => {
    const created = await a.client(user.token).keys.create.mutate({ name: "budget-later" });
    for (let i = 0; i < 3; i++) expect((await chat(a, created.key, { model: "pricey" })).status).toBe(200);
    // Unbudgeted spend is in the request log only (written in batches).
    await expect.poll(async () => (await a.client(user.token).keys.list.query()).items.find((k) => k.id === created.id)!.spendUsd, { timeout: 10_000 }).toBeCloseTo(3 * cost, 6);
    await a.client(user.token).keys.update.mutate({ id: created.id, budgetUsd: cost * 4.5, budgetPeriod: "day" });
    // 3 spent of 4.5: two more (the second is the one request of overshoot), then none. Before,
    // the counter's new spend was hidden behind the log's larger figure and five more went through.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await chatUntilServed(a, created.key, { model: "pricey" })).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it("a stream that breaks after its first token is billed for what it produced, whether the upstream or the client cut it", async () => {
    try {
      upstream.setDefault({ kind: "cut", afterChunks: 3, content: "one two three four five six seven" });
      const cut = await chat(a, user.token, { model: "pricey", stream: true });
      expect(cut.status).toBe(200);
      const byUpstream = await logged(user.token, { q: cut.headers.get("x-request-id")! }, () => true);
      expect(byUpstream.completionTokens).toBeGreaterThan(0);
      expect(byUpstream.costUsd).toBeGreaterThan(0);

      upstream.setDefault({ kind: "stall", afterChunks: 2, content: "one two three four" });
      const leaving = new AbortController();
      const res = await fetch(`${a.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...bearer(user.token), "content-type": "application/json" },
        body: JSON.stringify({ model: "pricey", messages: [{ role: "user", content: "hello there" }], stream: true }),
        signal: leaving.signal,
      });
      const reader = res.body!.getReader();
      let seen = "";
      while (!seen.includes("two")) seen += new TextDecoder().decode((await reader.read()).value);
      leaving.abort();
      const byClient = await logged(user.token, { q: res.headers.get("x-request-id")! }, () => true);
      expect(byClient.completionTokens).toBeGreaterThan(0);
      expect(byClient.costUsd).toBeGreaterThan(0);
    } finally {
      upstream.setDefault({ kind: "ok", content: "a pricey answer" });
    }
  });

  it("two instances overshoot by at most one request each", async () => {
    const key = (await a.client(user.token).keys.create.mutate({ name: "burst-two", budgetUsd: cost * 2.5, budgetPeriod: "day" })).key;
    const release = holdAnswers();
    const { admitted, answers } = await burst([a, b], key, 10);
    expect(admitted).toBe(4);
    release();
    expect((await answers).filter((r) => r.status === 200)).toHaveLength(4);
    // Four requests spent against 2.5. Each instance learns of the other's spend by a push
    // that may land a moment after the answers did: until then it may admit one request more
    // (its one of overshoot), never two; then both refuse for good.
    for (const app of [a, b]) {
      let code = "";
      let admittedAfter = 0;
      const deadline = Date.now() + 10_000;
      while (code !== "insufficient_quota" && Date.now() < deadline) {
        const res = await chatUntilServed(app, key, { model: "pricey" });
        if (res.status === 200) {
          admittedAfter++;
          continue;
        }
        expect(res.status).toBe(429);
        code = JSON.parse(res.text).error.code;
        if (code !== "insufficient_quota") await new Promise((r) => setTimeout(r, 20));
      }
      expect(admittedAfter).toBeLessThanOrEqual(1);
      expect(code).toBe("insufficient_quota");
    }
  });
});

describe("user budgets", () => {
  it("refuses a user over their budget on every metered call, by token or key, on every instance", async () => {
    const spender = await a.userWithRole("USER");
    const root = a.client(await a.login());
    // Hostile input: a negative budget is a 400 and changes nothing.
    expect((await trpcMutation(a.url, "users.update", { id: spender.id, budgetUsd: -1 }, bearer(await a.login()))).status).toBe(400);
    // Only a SUPERADMIN sets budgets.
    expect((await trpcMutation(a.url, "users.update", { id: spender.id, budgetUsd: 5 }, bearer(admin.token))).status).toBe(403);
    await root.users.update.mutate({ id: spender.id, budgetUsd: 0.000001, budgetPeriod: "month" });
    const listed = (await root.users.list.query({ search: spender.email })).items.find((u) => u.id === spender.id)!;
    expect(listed).toMatchObject({ budgetUsd: 0.000001, budgetPeriod: "month" });
    // A key without a budget of its own still spends its owner's.
    const key = (await a.client(spender.token).keys.create.mutate({ name: "owner-budget" })).key;

    expect((await chat(a, spender.token)).status).toBe(200);
    // users.list shows what the user spent in the period, as the budget counts it.
    await expect
      .poll(async () => (await root.users.list.query({ search: spender.email })).items.find((u) => u.id === spender.id)!.spendUsd, { timeout: 10_000 })
      .toBeGreaterThan(0);
    const refused = await sendUntil(429, () => chat(a, spender.token));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-should-retry")).toBe("false");
    expect(JSON.parse(refused.text).error.code).toBe("insufficient_quota");
    expect((await chat(a, key)).status).toBe(429);
    // The other instance heard of the spend by push.
    expect((await sendUntil(429, () => chat(b, spender.token))).status).toBe(429);
    const viaTrpc = await trpcMutation(b.url, "chat.send", { message: "hi" }, bearer(spender.token));
    expect(viaTrpc.status).toBe(429);
    expect(viaTrpc.body.error.data.code).toBe("TOO_MANY_REQUESTS");
    // Another user is not affected; clearing the budget lets the spender through again.
    expect((await chat(a, other.token)).status).toBe(200);
    await root.users.update.mutate({ id: spender.id, budgetUsd: null });
    expect((await sendUntil(200, () => chat(b, spender.token))).status).toBe(200);
  });

  it("a user budget that comes back counts what was spent while it had none, on the instances that knew the spend before", async () => {
    const spender = await a.userWithRole("USER");
    const root = a.client(await a.login());
    await root.users.update.mutate({ id: spender.id, budgetUsd: 1000, budgetPeriod: "month" });
    // Both instances learn the user's spend under the budget.
    for (const app of [a, b]) expect((await chat(app, spender.token)).status).toBe(200);
    await root.users.update.mutate({ id: spender.id, budgetUsd: null });
    // Spent while it had no budget: only the request log has it.
    for (let i = 0; i < 3; i++) expect((await chat(a, spender.token)).status).toBe(200);
    await Promise.all([a.app.deps.requestLog.flush(), b.app.deps.requestLog.flush()]);
    const logged = (await root.usage.summary.query({ groupBy: "user" })).groups.find((g) => g.key === spender.id)!;
    // Back, at more than the first two requests cost and less than all five.
    const budgetUsd = (logged.costUsd * 3) / 5;
    await root.users.update.mutate({ id: spender.id, budgetUsd, budgetPeriod: "month" });
    // The instance that made the change knows it at once: the first request is refused.
    const refused = await chat(a, spender.token);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text).error.code).toBe("insufficient_quota");
    // The other hears of it by push, and then refuses too.
    expect((await sendUntil(429, () => chat(b, spender.token))).status).toBe(429);
    await root.users.update.mutate({ id: spender.id, budgetUsd: null });
  });
});

describe("during a freeze", () => {
  it("keeps the request log and usage readable for ADMIN (not USER), and keys revocable", async () => {
    const key = await a.client(user.token).keys.create.mutate({ name: "leaked" });
    const root = a.client(await a.login());
    await root.emergency.freeze.mutate({ reason: "request-log freeze test" });
    try {
      expect((await trpcQuery(a.url, "logs.list", {}, bearer(admin.token))).status).toBe(200);
      expect((await trpcQuery(a.url, "usage.summary", { groupBy: "model" }, bearer(admin.token))).status).toBe(200);
      expect((await trpcQuery(a.url, "logs.list", {}, bearer(user.token))).status).toBe(503);
      expect((await trpcMutation(a.url, "keys.create", { name: "new" }, bearer(user.token))).status).toBe(503);
      expect((await trpcMutation(a.url, "keys.revoke", { id: key.id }, bearer(user.token))).status).toBe(200);
    } finally {
      await root.emergency.unfreeze.mutate({ reason: "done" });
    }
  });
});
