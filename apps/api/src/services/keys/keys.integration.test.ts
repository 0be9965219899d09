/**
 * API keys end to end on two instances sharing PostgreSQL and Redis: the secret is shown
 * once and works wherever an access token does (/v1, /trpc, the typed client); scopes,
 * models and ownership narrow it; revoking it, disabling its owner or reaching its expiry
 * refuses it on the other instance too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCClientError } from "@switchboard/client";
import { KEY_LIMITS } from "@switchboard/schema";
import { newKeySecret } from "./key-secret.ts";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../../test/redis.ts";

const prefix = uniquePrefix("keys");
let a: TestApp;
let b: TestApp;
let user: { id: string; email: string; token: string };
let other: { id: string; email: string; token: string };
let adminToken: string;

beforeAll(async () => {
  a = await startTestApp({ redisKeyPrefix: prefix });
  // b never re-reads the keys it holds within a test run: what it learns of a key's change
  // reached it by push.
  b = await startTestApp({ databaseUrl: a.app.deps.env.DATABASE_URL!, redisKeyPrefix: prefix, appOptions: { keys: { resyncIntervalMs: 10 * 60_000 } } });
  user = await a.userWithRole("USER");
  other = await a.userWithRole("USER");
  adminToken = (await a.userWithRole("ADMIN")).token;
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await deleteKeysWithPrefix(prefix);
});

const chatBody = { model: "auto", messages: [{ role: "user", content: "hello" }] };

async function v1(app: TestApp, path: string, key: string, body?: unknown) {
  const res = await fetch(`${app.url}/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { ...bearer(key), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Polls until `fn` answers `status` (at most `ms`); returns how long it took. */
async function until(fn: () => Promise<number>, status: number, ms = 5000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const got = await fn();
    if (got === status) return performance.now() - started;
    if (performance.now() - started > ms) throw new Error(`still ${got} after ${ms} ms, expected ${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("API keys", () => {
  it("shows the secret once, stores only a hash, and works on /v1, /trpc and the typed client", async () => {
    const created = await a.client(user.token).keys.create.mutate({ name: "ci" });
    expect(created.key).toMatch(/^sb-[A-Za-z0-9_-]{43,}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.scopes).toEqual(["chat", "consensus", "embeddings", "models", "read:metrics"]);
    const row = await a.app.deps.db.prisma.apiKey.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.keyHash).not.toContain(created.key.slice(3));
    const listed = await a.client(user.token).keys.list.query();
    expect(listed.items.map((k) => k.id)).toContain(created.id);
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const models = await v1(b, "/models", created.key);
    expect(models.status).toBe(200);
    const chat = await v1(b, "/chat/completions", created.key, chatBody);
    expect(chat.status).toBe(200);
    expect(chat.body.choices[0].message.content).toBeTruthy();
    const me = await b.client(created.key).auth.me.query();
    expect(me.id).toBe(user.id);
    const sent = await b.client(created.key).chat.send.mutate({ message: "hi" });
    expect(sent.content).toBeTruthy();
  });

  it("refuses malformed, unknown and revoked keys with 401 in each dialect", async () => {
    for (const key of ["sb-short", `sb-${"A".repeat(43)}`, "sb-" + "!".repeat(50)]) {
      const res = await v1(a, "/models", key);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("invalid_api_key");
      expect(res.body.error.type).toBe("invalid_request_error");
      const trpc = await trpcQuery(a.url, "auth.me", undefined, bearer(key));
      expect(trpc.status).toBe(401);
    }
  });

  it("never does more than its scopes and models allow (403 naming what is missing)", async () => {
    const c = a.client(user.token);
    const modelsOnly = await c.keys.create.mutate({ name: "models only", scopes: ["models"] });
    expect((await v1(a, "/models", modelsOnly.key)).status).toBe(200);
    const refused = await v1(a, "/chat/completions", modelsOnly.key, chatBody);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('"chat"');
    const trpc = await trpcMutation(a.url, "chat.send", { message: "hi" }, bearer(modelsOnly.key));
    expect(trpc.status).toBe(403);
    expect(trpc.body.error.message).toContain('"chat"');
    // Key management needs a signed-in person.
    expect((await trpcMutation(a.url, "keys.create", { name: "x" }, bearer(modelsOnly.key))).status).toBe(403);

    const pinned = await c.keys.create.mutate({ name: "pinned", models: ["gpt-special"] });
    const wrongModel = await v1(a, "/chat/completions", pinned.key, chatBody);
    expect(wrongModel.status).toBe(403);
    expect(wrongModel.body.error.message).toContain('"auto"');

    // Pinning a provider over tRPC names it, as /v1 would spell the model: no way around the list.
    const autoOnly = await c.keys.create.mutate({ name: "auto-only", models: ["auto"] });
    const templateOnly = await c.keys.create.mutate({ name: "template-only", models: ["template"] });
    const refusedModel = async (key: string, path: string, input: unknown) => {
      const res = await trpcMutation(a.url, path, input, bearer(key));
      expect(res.status, JSON.stringify(input)).toBe(403);
      return (res.body.error.message as string).match(/may not use model "([^"]+)"/)?.[1];
    };
    expect(await refusedModel(autoOnly.key, "chat.send", { message: "hi", provider: "template" })).toBe("template");
    expect(await refusedModel(templateOnly.key, "chat.send", { message: "hi", provider: "template", model: "gpt-special" })).toBe("template/gpt-special");
    expect(await refusedModel(autoOnly.key, "consensus.query", { prompt: "hi", strategy: "majority", providers: ["template", "other"] })).toBe("template");
    expect(await refusedModel(autoOnly.key, "consensus.query", { prompt: "hi", strategy: "synthesize", aggregator: "template" })).toBe("template");
    // Over tRPC a model that names no route goes to every provider of auto: it asks for auto too.
    expect(await refusedModel(pinned.key, "chat.send", { message: "hi", model: "gpt-special" })).toBe("auto");
    const allowed = await trpcMutation(a.url, "chat.send", { message: "hi", provider: "template" }, bearer(templateOnly.key));
    expect(allowed.status).toBe(200);
    expect(allowed.body.result.data.provider).toBe("template");

    // A USER's key with read:metrics still cannot read ADMIN metrics: never more than the owner.
    const metrics = await trpcQuery(a.url, "metrics.summary", undefined, bearer(modelsOnly.key));
    expect(metrics.status).toBe(403);
  });

  it("refuses negative budgets and limits with 400", async () => {
    for (const input of [{ name: "x", budgetUsd: -1 }, { name: "x", rateLimitPerMin: -5 }, { name: "x", rateLimitPerMin: 0 }, { name: "x", expiresAt: "2001-01-01T00:00:00Z" }]) {
      const res = await trpcMutation(a.url, "keys.create", input, bearer(user.token));
      expect(res.status, JSON.stringify(input)).toBe(400);
    }
  });

  it("holds a user to KEY_LIMITS.maxActivePerUser active keys (409 beyond, two creates at once included); revoked and expired ones do not count", async () => {
    const owner = await a.userWithRole("USER");
    const straightIn = (n: number, extra: Record<string, unknown> = {}) =>
      a.app.deps.db.prisma.apiKey.createMany({ data: Array.from({ length: n }, (_, i) => ({ userId: owner.id, name: `bulk${i}`, prefix: "sb-x", keyHash: newKeySecret().hash, scopes: ["chat"], ...extra })) });
    await straightIn(KEY_LIMITS.maxActivePerUser - 2);
    await straightIn(3, { revokedAt: new Date() });
    await straightIn(3, { expiresAt: new Date(Date.now() - 1000) });
    const client = a.client(owner.token);
    // Two places left, three creates at once: exactly two are made.
    const results = await Promise.all([0, 1, 2].map((i) => trpcMutation(a.url, "keys.create", { name: `race${i}` }, bearer(owner.token))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 409]);
    const refused = results.find((r) => r.status === 409)!;
    expect(refused.body.error.data.appCode).toBe("CONFLICT");
    expect(refused.body.error.message).toMatch(/revoke one/);
    const active = () => a.app.deps.db.prisma.apiKey.count({ where: { userId: owner.id, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] } });
    expect(await active()).toBe(KEY_LIMITS.maxActivePerUser);
    // Revoking one makes room for one.
    const made = results.find((r) => r.status === 200)!.body.result.data as { id: string };
    await client.keys.revoke.mutate({ id: made.id });
    const afterRevoke = await trpcMutation(a.url, "keys.create", { name: "after-revoke" }, bearer(owner.token));
    expect(afterRevoke.status).toBe(200);
    expect((await trpcMutation(a.url, "keys.create", { name: "one-too-many" }, bearer(owner.token))).status).toBe(409);
    expect(await active()).toBe(KEY_LIMITS.maxActivePerUser);
    // Nor may an expired key be brought back to life past the limit; with room, it may.
    const expired = await a.app.deps.db.prisma.apiKey.findFirstOrThrow({ where: { userId: owner.id, expiresAt: { lt: new Date() } } });
    const later = new Date(Date.now() + 3600_000).toISOString();
    expect((await trpcMutation(a.url, "keys.update", { id: expired.id, expiresAt: later }, bearer(owner.token))).status).toBe(409);
    expect((await trpcMutation(a.url, "keys.update", { id: expired.id, expiresAt: null }, bearer(owner.token))).status).toBe(409);
    expect(await active()).toBe(KEY_LIMITS.maxActivePerUser);
    await client.keys.revoke.mutate({ id: (afterRevoke.body.result.data as { id: string }).id });
    expect((await trpcMutation(a.url, "keys.update", { id: expired.id, expiresAt: later }, bearer(owner.token))).status).toBe(200);
    expect(await active()).toBe(KEY_LIMITS.maxActivePerUser);
  });

  it("keeps users to their own keys: another user's key is a 404; an ADMIN sees all", async () => {
    const mine = await a.client(user.token).keys.create.mutate({ name: "mine" });
    const theirs = a.client(other.token);
    expect((await theirs.keys.list.query()).items.map((k) => k.id)).not.toContain(mine.id);
    for (const path of ["keys.revoke", "keys.update"]) {
      const res = await trpcMutation(a.url, path, { id: mine.id, name: "stolen" }, bearer(other.token));
      expect(res.status, path).toBe(404);
    }
    expect((await trpcQuery(a.url, "keys.get", { id: mine.id }, bearer(other.token))).status).toBe(404);
    const all = await a.client(adminToken).keys.list.query({ limit: 100 });
    expect(all.items.find((k) => k.id === mine.id)?.owner.email).toBe(user.email);
  });

  it("pages on past a cursor whose key was revoked between pages, losing none after it", async () => {
    const pager = await a.userWithRole("USER");
    const keys = a.client(pager.token).keys;
    for (const name of ["k1", "k2", "k3", "k4"]) await keys.create.mutate({ name });
    const ids = (await keys.list.query()).items.map((k) => k.id);
    expect(ids).toHaveLength(4);
    const first = await keys.list.query({ limit: 2 });
    expect(first.items.map((k) => k.id)).toEqual(ids.slice(0, 2));
    // The cursor's key leaves the list (revoked ones are not listed), but its row keeps the place.
    await keys.revoke.mutate({ id: first.nextCursor! });
    expect(await keys.list.query({ limit: 2, cursor: first.nextCursor! })).toEqual({ items: ids.slice(2).map((id) => expect.objectContaining({ id })), nextCursor: null });
  });

  it("a revoke on one instance refuses the key on the other within moments (pushed)", async () => {
    const created = await a.client(user.token).keys.create.mutate({ name: "to revoke" });
    expect((await v1(b, "/models", created.key)).status).toBe(200);
    await a.client(user.token).keys.revoke.mutate({ id: created.id });
    // b holds the key and does not re-read it: only the push can refuse it. It arrives in
    // milliseconds; 2 s leaves room for slow requests.
    await until(async () => (await v1(b, "/models", created.key)).status, 401, 2_000);
    // Revoked keys are listed only on request, and cannot be changed.
    expect((await a.client(user.token).keys.list.query()).items.map((k) => k.id)).not.toContain(created.id);
    const update = await trpcMutation(a.url, "keys.update", { id: created.id, name: "back" }, bearer(user.token));
    expect(update.status).toBe(409);
  });

  it("disabling the owner refuses their keys on every instance; re-enabling restores them", async () => {
    const owner = await a.userWithRole("USER");
    const created = await a.client(owner.token).keys.create.mutate({ name: "owner's" });
    expect((await v1(b, "/models", created.key)).status).toBe(200);
    const root = a.client(await a.login());
    await root.users.update.mutate({ id: owner.id, disabled: true });
    // Pushed, so within moments (the push is proven in sessions-cluster, on an instance that
    // does not resync); here, that b refuses the keys at all.
    await until(async () => (await v1(b, "/models", created.key)).status, 401, 10_000);
    await root.users.update.mutate({ id: owner.id, disabled: false });
    // Re-enabling is pushed too (also proven in sessions-cluster); here, that b restores the keys.
    await until(async () => (await v1(b, "/models", created.key)).status, 200, 5000);
  });

  it("a password reset leaves the user's keys working; with revokeKeys it revokes them on every instance", async () => {
    const owner = await a.userWithRole("USER");
    const first = await a.client(owner.token).keys.create.mutate({ name: "made before the reset" });
    const second = await a.client(owner.token).keys.create.mutate({ name: "made with the leaked password" });
    const othersKey = await a.client(other.token).keys.create.mutate({ name: "someone else's" });
    for (const key of [first, second, othersKey]) expect((await v1(b, "/models", key.key)).status).toBe(200);
    const root = a.client(await a.login());
    await root.users.update.mutate({ id: owner.id, password: "a brand new passphrase" });
    // The default: programs relying on keys keep working through a reset.
    expect((await v1(b, "/models", first.key)).status).toBe(200);

    await root.users.update.mutate({ id: owner.id, password: "another new passphrase", revokeKeys: true });
    // b holds the keys and does not re-read them: only the push refuses them.
    for (const key of [first, second]) await until(async () => (await v1(b, "/models", key.key)).status, 401, 2_000);
    expect((await v1(b, "/models", othersKey.key)).status).toBe(200);
    // Kept listed as revoked, as keys.revoke leaves them.
    const listed = await root.keys.list.query({ userId: owner.id, includeRevoked: true });
    expect(listed.items.map((k) => [k.id, k.revokedAt !== null]).sort()).toEqual([[first.id, true], [second.id, true]].sort());
    // On its own it revokes keys made since too.
    const after = await a.client(await a.login(owner.email, "another new passphrase")).keys.create.mutate({ name: "after" });
    await root.users.update.mutate({ id: owner.id, revokeKeys: true });
    await until(async () => (await v1(b, "/models", after.key)).status, 401, 2_000);
  });

  it("a key stops at its expiry", async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const created = await a.client(user.token).keys.create.mutate({ name: "short", expiresAt });
    expect((await v1(b, "/models", created.key)).status).toBe(200);
    await until(async () => (await v1(b, "/models", created.key)).status, 401, 5000);
  });

  it("deleting the owner's row directly refuses the key within seconds (resync)", async () => {
    const owner = await a.userWithRole("USER");
    const created = await a.client(owner.token).keys.create.mutate({ name: "gone" });
    expect((await v1(b, "/models", created.key)).status).toBe(200);
    await a.app.deps.db.prisma.user.delete({ where: { id: owner.id } });
    await until(async () => (await v1(b, "/models", created.key)).status, 401, 8000);
  });

  it("rate-limits a key across instances with x-ratelimit-* headers", async () => {
    const created = await a.client(user.token).keys.create.mutate({ name: "limited", rateLimitPerMin: 2 });
    const first = await v1(a, "/chat/completions", created.key, chatBody);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    expect((await v1(b, "/chat/completions", created.key, chatBody)).status).toBe(200);
    const third = await v1(a, "/chat/completions", created.key, chatBody);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe("rate_limit_exceeded");
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    // Model calls only: listing models is not metered.
    expect((await v1(b, "/models", created.key)).status).toBe(200);
    const viaTrpc = await trpcMutation(b.url, "chat.send", { message: "hi" }, bearer(created.key));
    expect(viaTrpc.status).toBe(429);
  });

  it("the typed client rejects an unknown key as UNAUTHORIZED", async () => {
    await expect(a.client(`sb-${"B".repeat(43)}`).auth.me.query()).rejects.toBeInstanceOf(TRPCClientError);
  });
});
