/**
 * Tag budgets end to end, on two instances sharing PostgreSQL and Redis: a SUPERADMIN caps
 * the spend of every request carrying a tag — sent in x-switchboard-tags, or given by the
 * API key used — whoever sends it; past the cap those requests are refused with
 * insufficient_quota on every instance, the rest go on; an ADMIN reads the budgets with what
 * their requests spent; removing one lifts it everywhere.
 */
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAG_BUDGET_LIMITS } from "@switchboard/schema";
import { priceAutoRoute, startTestApp, type TestApp } from "../../../test/app.ts";
import { openTestDatabase } from "../../../test/database.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../../test/redis.ts";
import { requestLogRow } from "../../../test/request-log-row.ts";
import { createCoordination } from "../../infra/coordination/index.ts";
import { createLogWriter } from "../request-log/log-writer.ts";
import { createLoggedSpend } from "./logged-spend.ts";
import { createSpendLedger, tagSubject } from "./spend-ledger.ts";
import { createTagBudgets } from "./tag-budgets.ts";

const prefix = uniquePrefix("tag-budgets");
let a: TestApp;
let b: TestApp;
let root: string;

beforeAll(async () => {
  const appOptions = { requestLogFlushMs: 100 };
  a = await startTestApp({ redisKeyPrefix: prefix, appOptions, env: { CHAT_RATE_LIMIT_PER_MIN: "1000" } });
  b = await startTestApp({ databaseUrl: a.app.deps.env.DATABASE_URL!, redisKeyPrefix: prefix, appOptions, env: { CHAT_RATE_LIMIT_PER_MIN: "1000" } });
  root = await a.login();
  // A price on the default route, so one offline answer costs a visible amount.
  await priceAutoRoute(a.client(root));
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await deleteKeysWithPrefix(prefix);
});

async function chat(app: TestApp, credential: string, tags?: string) {
  const res = await fetch(`${app.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(credential), "content-type": "application/json", ...(tags ? { "x-switchboard-tags": tags } : {}) },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hello there" }] }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

/**
 * Sends until `want` comes back, for up to 10 s; returns the last status. Spend and budget
 * changes reach an instance within moments, by push; the wait is bounded in time rather than
 * in tries, as each try is a whole request.
 */
async function until(want: number, send: () => Promise<{ status: number }>): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { status } = await send();
    if (status === want || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("tag budgets", () => {
  it("cap every request carrying the tag, whoever sends it and on every instance; removing one lifts it", async () => {
    const tag = `team:${Date.now()}`;
    const [alice, bob, admin] = [await a.userWithRole("USER"), await a.userWithRole("USER"), await a.userWithRole("ADMIN")];
    // Only a SUPERADMIN sets one; a malformed tag or a negative amount is a 400 that changes nothing.
    expect((await trpcMutation(a.url, "tagBudgets.set", { tag, budgetUsd: 1 }, bearer(admin.token))).status).toBe(403);
    expect((await trpcMutation(a.url, "tagBudgets.set", { tag: "no spaces", budgetUsd: 1 }, bearer(root))).status).toBe(400);
    expect((await trpcMutation(a.url, "tagBudgets.set", { tag, budgetUsd: -1 }, bearer(root))).status).toBe(400);
    const set = await trpcMutation(a.url, "tagBudgets.set", { tag, budgetUsd: 0.000001 }, bearer(root));
    expect(set.body.result.data).toEqual({ tag, budgetUsd: 0.000001, budgetPeriod: "month", keysOnly: false });

    expect((await chat(a, alice.token, tag)).status).toBe(200);
    expect(await until(429, () => chat(a, alice.token, tag))).toBe(429);
    const refused = await chat(a, alice.token, `other, ${tag}`);
    expect(refused.body.error).toMatchObject({ code: "insufficient_quota", message: expect.stringContaining(`Tag "${tag}" budget exhausted`) });
    // A tag's figures are not told to whoever sends it.
    expect(refused.body.error!.message).not.toContain("$");
    // Another user, on the other instance, with the same tag: refused too.
    expect(await until(429, () => chat(b, bob.token, tag))).toBe(429);
    // A key that carries the tag cannot leave it off.
    const key = await a.client(bob.token).keys.create.mutate({ name: "team key", tags: [tag] });
    expect((await chat(b, key.key)).status).toBe(429);
    // The key's owner cannot take the budgeted tag off it; a SUPERADMIN can.
    const untag = await trpcMutation(a.url, "keys.update", { id: key.id, tags: [] }, bearer(bob.token));
    expect(untag.status).toBe(403);
    expect(untag.body.error.message).toContain(`Tag "${tag}" has a budget`);
    expect((await trpcMutation(a.url, "keys.update", { id: key.id, name: "renamed team key" }, bearer(bob.token))).status).toBe(200);
    // Requests without the tag go on.
    expect((await chat(a, alice.token, "team:elsewhere")).status).toBe(200);
    expect((await chat(b, bob.token)).status).toBe(200);

    // An ADMIN reads it with what its requests spent (the log is written about every 100 ms here).
    const listed = async () => ((await trpcQuery(a.url, "tagBudgets.list", undefined, bearer(admin.token))).body.result.data as Array<{ tag: string; spendUsd: number; requests: number }>).find((t) => t.tag === tag);
    // Each instance writes its own rows in its own batches, so the count grows in steps.
    await expect.poll(async () => (await listed())?.spendUsd).toBeGreaterThan(0);
    await expect.poll(async () => (await listed())?.requests ?? 0).toBeGreaterThanOrEqual(3);
    expect((await trpcQuery(a.url, "tagBudgets.list", undefined, bearer(alice.token))).status).toBe(403);

    expect((await trpcMutation(a.url, "tagBudgets.remove", { tag }, bearer(root))).body.result.data).toEqual({ removed: true });
    expect(await until(200, () => chat(b, key.key))).toBe(200);
    expect((await trpcMutation(a.url, "tagBudgets.remove", { tag }, bearer(root))).status).toBe(404);
  });

  it("kept to the keys that carry the tag (keysOnly): anyone else naming it is refused, on every instance, and cannot exhaust it", async () => {
    const tag = `reserved:${Date.now()}`;
    const [owner, outsider] = [await a.userWithRole("USER"), await a.userWithRole("USER")];
    const set = await trpcMutation(a.url, "tagBudgets.set", { tag, budgetUsd: 5, keysOnly: true }, bearer(root));
    expect(set.body.result.data).toEqual({ tag, budgetUsd: 5, budgetPeriod: "month", keysOnly: true });
    // Only who sets budgets gives the tag to a key: anyone else putting it on a key of their own
    // (a new one, or one they hold) would be on the team, and spend or exhaust its budget.
    const reservedRefusal = `Tag "${tag}" has a budget kept to the keys that carry it: only a SuperAdmin gives it to a key`;
    for (const refused of [
      await trpcMutation(a.url, "keys.create", { name: "sneaky", tags: ["mine", tag] }, bearer(outsider.token)),
      await trpcMutation(a.url, "keys.update", { id: (await a.client(outsider.token).keys.create.mutate({ name: "plain" })).id, tags: [tag] }, bearer(outsider.token)),
    ]) {
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toBe(reservedRefusal);
    }
    const teamKey = await a.client(owner.token).keys.create.mutate({ name: "team key" });
    expect((await trpcMutation(a.url, "keys.update", { id: teamKey.id, tags: [tag] }, bearer(owner.token))).status).toBe(403);
    await a.client(root).keys.update.mutate({ id: teamKey.id, tags: [tag] });
    const key = { ...teamKey, tags: [tag] };
    // What the key already carries, its owner may keep changing around it.
    expect((await a.client(owner.token).keys.update.mutate({ id: key.id, tags: [tag, "team"] })).tags).toEqual([tag, "team"]);
    expect((await a.client(owner.token).keys.update.mutate({ id: key.id, name: "team key, renamed" })).tags).toEqual([tag, "team"]);

    // Through the team's key: charged as usual (its own tags may repeat it in the header).
    expect((await chat(b, key.key)).status).toBe(200);
    expect((await chat(b, key.key, tag)).status).toBe(200);
    // Anyone naming it otherwise — signed in, or with a key not carrying it — is refused before any call.
    const outsiderKey = await a.client(outsider.token).keys.create.mutate({ name: "other key" });
    // (The other instance learns of the budget within moments.)
    expect(await until(403, () => chat(b, outsiderKey.key, tag))).toBe(403);
    for (const attempt of [chat(a, outsider.token, tag), chat(b, outsiderKey.key, `x, ${tag}`), chat(b, owner.token, tag)]) {
      const refused = await attempt;
      expect(refused.status).toBe(403);
      expect(refused.body.error!.message).toContain(`Tag "${tag}" is charged only by the API keys that carry it`);
    }
    // A request that spends nothing is refused too, over REST and tRPC (it would be logged and
    // counted under the team's tag); the team's key still sends it.
    const withTag = (credential: string) => ({ ...bearer(credential), "x-switchboard-tags": tag });
    const models = await fetch(`${b.url}/v1/models`, { headers: withTag(outsider.token) });
    expect(models.status).toBe(403);
    expect(((await models.json()) as { error: { message: string } }).error.message).toContain(`Tag "${tag}" is charged only by the API keys that carry it`);
    expect((await fetch(`${b.url}/v1/models`, { headers: withTag(key.key) })).status).toBe(200);
    const conversations = await trpcQuery(b.url, "chat.conversations.list", undefined, withTag(outsider.token));
    expect(conversations.status).toBe(403);
    // None of those refusals is logged under the team's tag (a refused row keeps its other tags).
    await Promise.all([a.app.deps.requestLog.flush(), b.app.deps.requestLog.flush()]);
    const underTag = (await a.client(root).logs.list.query({ tag, limit: 100 })).items;
    expect(underTag.filter((r) => r.status === 403)).toEqual([]);
    expect(underTag.filter((r) => r.keyId === key.id).map((r) => r.route).sort()).toEqual(["/v1/chat/completions", "/v1/chat/completions", "/v1/models"]);
    const refusedRows = (await a.client(root).logs.list.query({ userId: outsider.id, status: 403, limit: 100 })).items;
    expect(refusedRows.length).toBeGreaterThanOrEqual(5);
    expect(refusedRows.filter((r) => r.tags.length > 0).map((r) => r.tags)).toEqual([["x"]]);
    // A change to the amount leaves keysOnly as it was; set false, anyone may send it again.
    expect((await trpcMutation(a.url, "tagBudgets.set", { tag, budgetUsd: 6 }, bearer(root))).body.result.data.keysOnly).toBe(true);
    expect((await trpcQuery(a.url, "tagBudgets.list", undefined, bearer(root))).body.result.data.find((t: { tag: string }) => t.tag === tag).keysOnly).toBe(true);
    await trpcMutation(a.url, "tagBudgets.set", { tag, budgetUsd: 6, keysOnly: false }, bearer(root));
    expect(await until(200, () => chat(b, outsider.token, tag))).toBe(200);
    await trpcMutation(a.url, "tagBudgets.remove", { tag }, bearer(root));
  });

  it(`hold at most ${TAG_BUDGET_LIMITS.max}: one more is a 409, a change to one of them is not`, async () => {
    const existing = await a.app.deps.db.prisma.tagBudget.count();
    const fill = Array.from({ length: TAG_BUDGET_LIMITS.max - existing }, (_, i) => ({ tag: `bulk:${i}`, budgetUsd: 1 }));
    await a.app.deps.db.prisma.tagBudget.createMany({ data: fill });
    try {
      const refused = await trpcMutation(a.url, "tagBudgets.set", { tag: "one:more", budgetUsd: 1 }, bearer(root));
      expect(refused.status).toBe(409);
      // Set at once for the last places, ten new tags: the count is never raced past.
      await a.app.deps.db.prisma.tagBudget.deleteMany({ where: { tag: { in: ["bulk:1", "bulk:2"] } } });
      const racing = await Promise.all(Array.from({ length: 10 }, (_, i) => trpcMutation(a.url, "tagBudgets.set", { tag: `race:${i}`, budgetUsd: 1 }, bearer(root))));
      expect(racing.filter((r) => r.status === 200)).toHaveLength(2);
      expect(racing.filter((r) => r.status === 409)).toHaveLength(8);
      expect(await a.app.deps.db.prisma.tagBudget.count()).toBe(TAG_BUDGET_LIMITS.max);
      expect((await trpcMutation(a.url, "tagBudgets.set", { tag: "bulk:0", budgetUsd: 2, budgetPeriod: "day" }, bearer(root))).status).toBe(200);
    } finally {
      await a.app.deps.db.prisma.tagBudget.deleteMany({ where: { OR: [{ tag: { startsWith: "bulk:" } }, { tag: { startsWith: "race:" } }] } });
    }
  });
});

describe("a tag budget's figures", () => {
  it("are read again when its budget comes back: spend made while it had none counts", async () => {
    const db = await openTestDatabase("PGlite");
    const coordination = await createCoordination({ redisUrl: "" });
    try {
      const logged = createLoggedSpend(db.prisma);
      const spend = createSpendLedger({ coordination, loggedSpend: logged.of, log: () => {} });
      const budgets = createTagBudgets({ prisma: db.prisma, coordination, spend, logged, log: () => {} });
      const writer = createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 30, log: () => {} });
      await budgets.start();
      const subject = tagSubject("team:search");
      await budgets.set({ tag: "team:search", budgetUsd: 1, budgetPeriod: "month" });
      const inFlight = await spend.admit(subject, "month", 1);
      if (!inFlight.admitted) throw new Error("the first request should be admitted");
      // The budget is removed while a request runs; its cost is booked after.
      await budgets.remove("team:search");
      inFlight.hold.release(0.1);
      // $5 spent on the tag while it had no budget: logged, not counted by any ledger.
      writer.record(requestLogRow({ tags: ["team:search"], costUsd: 5 }));
      await writer.flush();
      await budgets.set({ tag: "team:search", budgetUsd: 1, budgetPeriod: "month" });
      expect(await spend.admit(subject, "month", 1)).toMatchObject({ admitted: false, reason: "exhausted" });
      // A row edited by hand into what the gateway cannot enforce is left out, not read as a month.
      await db.prisma.tagBudget.create({ data: { tag: "team:weekly", budgetUsd: 1, budgetPeriod: "week" } });
      await budgets.close();
      await budgets.start();
      expect(budgets.of(["team:weekly", "team:search"]).map((b) => b.tag)).toEqual(["team:search"]);
      expect((await budgets.list()).map((b) => b.tag)).toEqual(["team:search"]);
      await budgets.close();
      await spend.close();
    } finally {
      await coordination.close();
      await db.close();
    }
  });
});
