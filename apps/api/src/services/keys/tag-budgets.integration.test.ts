/**
 * Tag budgets end to end, on two instances sharing PostgreSQL and Redis: a SUPERADMIN caps
 * the spend of every request carrying a tag — sent in x-switchboard-tags, or given by the
 * API key used — whoever sends it; past the cap those requests are refused with
 * insufficient_quota on every instance, the rest go on; an ADMIN reads the budgets with what
 * their requests spent; removing one lifts it everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAG_BUDGET_LIMITS } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../../test/redis.ts";

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
  const admin = a.client(root);
  const auto = (await admin.models.list.query({ limit: 100 })).items.find((m) => m.name === "auto")!;
  await admin.models.upsert.mutate({ name: "auto", targets: auto.targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel })), inputPricePerMTok: 1_000, outputPricePerMTok: 2_000 });
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

/** Sends until `want` comes back (spend and budget changes reach an instance within moments). */
async function until(want: number, send: () => Promise<{ status: number }>): Promise<number> {
  let status = 0;
  for (let i = 0; i < 150 && status !== want; i++) {
    status = (await send()).status;
    if (status !== want) await new Promise((r) => setTimeout(r, 20));
  }
  return status;
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
    expect(set.body.result.data).toEqual({ tag, budgetUsd: 0.000001, budgetPeriod: "month" });

    expect((await chat(a, alice.token, tag)).status).toBe(200);
    expect(await until(429, () => chat(a, alice.token, tag))).toBe(429);
    const refused = await chat(a, alice.token, `other, ${tag}`);
    expect(refused.body.error).toMatchObject({ code: "insufficient_quota", message: expect.stringContaining(`Tag "${tag}" budget exhausted`) });
    // Another user, on the other instance, with the same tag: refused too.
    expect(await until(429, () => chat(b, bob.token, tag))).toBe(429);
    // A key that carries the tag cannot leave it off.
    const key = await a.client(bob.token).keys.create.mutate({ name: "team key", tags: [tag] });
    expect((await chat(b, key.key)).status).toBe(429);
    // Requests without the tag go on.
    expect((await chat(a, alice.token, "team:elsewhere")).status).toBe(200);
    expect((await chat(b, bob.token)).status).toBe(200);

    // An ADMIN reads it with what its requests spent (the log is written about every 100 ms here).
    const listed = async () => ((await trpcQuery(a.url, "tagBudgets.list", undefined, bearer(admin.token))).body.result.data as Array<{ tag: string; spendUsd: number; requests: number }>).find((t) => t.tag === tag);
    await expect.poll(async () => (await listed())?.spendUsd, { timeout: 5_000 }).toBeGreaterThan(0);
    expect((await listed())!.requests).toBeGreaterThanOrEqual(3);
    expect((await trpcQuery(a.url, "tagBudgets.list", undefined, bearer(alice.token))).status).toBe(403);

    expect((await trpcMutation(a.url, "tagBudgets.remove", { tag }, bearer(root))).body.result.data).toEqual({ removed: true });
    expect(await until(200, () => chat(b, key.key))).toBe(200);
    expect((await trpcMutation(a.url, "tagBudgets.remove", { tag }, bearer(root))).status).toBe(404);
  });

  it(`hold at most ${TAG_BUDGET_LIMITS.max}: one more is a 409, a change to one of them is not`, async () => {
    const existing = await a.app.deps.db.prisma.tagBudget.count();
    const fill = Array.from({ length: TAG_BUDGET_LIMITS.max - existing }, (_, i) => ({ tag: `bulk:${i}`, budgetUsd: 1 }));
    await a.app.deps.db.prisma.tagBudget.createMany({ data: fill });
    try {
      const refused = await trpcMutation(a.url, "tagBudgets.set", { tag: "one:more", budgetUsd: 1 }, bearer(root));
      expect(refused.status).toBe(409);
      expect((await trpcMutation(a.url, "tagBudgets.set", { tag: "bulk:0", budgetUsd: 2, budgetPeriod: "day" }, bearer(root))).status).toBe(200);
    } finally {
      await a.app.deps.db.prisma.tagBudget.deleteMany({ where: { tag: { startsWith: "bulk:" } } });
    }
  });
});
