/**
 * Pruning the request log keeps spend whole, on PostgreSQL and on the embedded PGlite: what
 * the deleted rows cost is folded per budget subject (keys, users, tags with a budget) and day, so a key's totals and a
 * budget's spend read the same before and after, and two instances pruning at once (in
 * batches) count nothing twice; their usage is folded per day, user, key, model and provider,
 * so usage summaries over whole days read the same too (response-cache hits and what they saved
 * included).
 */
import { randomUUID } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { budgetPeriodStart } from "@switchboard/schema";
import { openTestDatabase, type DatabaseFlavour } from "../../../test/database.ts";
import type { Database } from "../../infra/database.ts";
import { createLoggedSpend } from "../keys/logged-spend.ts";
import { requestLogRow } from "../../../test/request-log-row.ts";
import { createLogWriter } from "./log-writer.ts";
import { createLogsService } from "./logs-service.ts";

const DAY = 86_400_000;

const row = (createdAt: Date, who: { userId: string; keyId: string | null }, costUsd: number) => requestLogRow({ createdAt, ...who, costUsd });

describe.each<DatabaseFlavour>(["PostgreSQL", "PGlite"])("pruning the request log on %s", (flavour) => {
  let db: Database;

  beforeAll(async () => {
    db = await openTestDatabase(flavour);
  }, 120_000);

  afterAll(async () => {
    await db?.close();
  });

  const writer = () => createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 30, log: () => {} });

  it("folds what pruned rows cost into per-subject daily totals, so spend reads the same after", async () => {
    const user = randomUUID();
    const key = randomUUID();
    const w = writer();
    const longAgo = new Date(Date.now() - 45 * DAY);
    const now = new Date();
    // Taken once: a run that crosses midnight UTC reads every figure over the same window.
    const today = budgetPeriodStart("day", now);
    // Two old rows with the key, one old without, one recent with the key.
    w.record(row(longAgo, { userId: user, keyId: key }, 0.25));
    w.record(row(new Date(longAgo.getTime() + 1000), { userId: user, keyId: key }, 0.5));
    w.record(row(longAgo, { userId: user, keyId: null }, 1));
    w.record(row(now, { userId: user, keyId: key }, 2));
    await w.flush();

    const spend = createLoggedSpend(db.prisma);
    const before = {
      key: await spend.of(`key:${key}`, undefined),
      user: await spend.of(`user:${user}`, undefined),
      keys: await spend.ofSubjects([{ subject: `key:${key}`, from: today }]),
    };
    expect(before.key).toBeCloseTo(2.75, 10);
    expect(before.user).toBeCloseTo(3.75, 10);

    expect(await w.prune()).toBe(3);
    expect(await db.prisma.requestLog.count({ where: { userId: user } })).toBe(1);
    expect(await spend.of(`key:${key}`, undefined)).toBeCloseTo(before.key, 10);
    expect(await spend.of(`user:${user}`, undefined)).toBeCloseTo(before.user, 10);
    expect(await spend.ofSubjects([{ subject: `key:${key}`, from: today }])).toEqual(before.keys);
    expect(before.keys.get(`key:${key}`)).toMatchObject({ requests: 3, period: 2 });
    expect(before.keys.get(`key:${key}`)!.total).toBeCloseTo(2.75, 10);
    // A period that began after the pruned day does not count it.
    expect(await spend.of(`key:${key}`, today)).toBeCloseTo(2, 10);

    // Users and keys in one call; a subject that never spent reads zero.
    const stranger = `key:${randomUUID()}` as const;
    const mixed = await spend.ofSubjects([{ subject: `user:${user}`, from: undefined }, { subject: `key:${key}`, from: today }, { subject: stranger, from: undefined }]);
    expect(mixed.get(`user:${user}`)).toMatchObject({ requests: 4 });
    expect(mixed.get(`user:${user}`)!.period).toBeCloseTo(3.75, 10);
    expect(mixed.get(stranger)).toEqual({ total: 0, period: 0, requests: 0 });

    // Pruning again finds nothing and changes nothing.
    expect(await w.prune()).toBe(0);
    expect(await spend.of(`user:${user}`, undefined)).toBeCloseTo(before.user, 10);
  });

  it("folds what pruned rows cost under each of their tags that has a budget, so a tag's spend reads the same after", async () => {
    const [budgeted, unbudgeted] = [`team:${randomUUID()}`, `made-up:${randomUUID()}`];
    await db.prisma.tagBudget.create({ data: { tag: budgeted, budgetUsd: 100, budgetPeriod: "total" } });
    const w = writer();
    const longAgo = new Date(Date.now() - 45 * DAY);
    const who = { userId: randomUUID(), keyId: null };
    w.record(requestLogRow({ createdAt: longAgo, ...who, costUsd: 0.5, tags: [budgeted, unbudgeted] }));
    w.record(requestLogRow({ createdAt: longAgo, ...who, costUsd: 0.25, tags: [budgeted] }));
    w.record(requestLogRow({ createdAt: new Date(), ...who, costUsd: 1, tags: [budgeted] }));
    await w.flush();
    const spend = createLoggedSpend(db.prisma);
    const subject = `tag:${budgeted}` as const;
    const before = await spend.ofSubjects([{ subject, from: undefined }]);
    expect(before.get(subject)).toMatchObject({ requests: 3, total: 1.75 });

    expect(await w.prune()).toBeGreaterThanOrEqual(2);
    expect(await spend.of(subject, undefined)).toBeCloseTo(1.75, 10);
    expect(await spend.ofSubjects([{ subject, from: undefined }])).toEqual(before);
    // A tag without a budget keeps nothing for good: any caller can make tags up.
    expect(await db.prisma.prunedSpend.count({ where: { subject: `tag:${unbudgeted}` } })).toBe(0);
  });

  it("folds pruned rows' usage per day, so a summary over whole days reads the same after", async () => {
    const user = randomUUID();
    const other = randomUUID();
    const key = randomUUID();
    const w = writer();
    // Noon UTC, 45 and 44 days back: the whole of both days is past the retention.
    const noon = (daysAgo: number) => new Date(Math.floor(Date.now() / DAY) * DAY - daysAgo * DAY + DAY / 2);
    const at = (createdAt: Date, fields: { userId: string; keyId?: string; model: string; provider: string | null }, costUsd: number, promptTokens: number) =>
      w.record(requestLogRow({ createdAt, userId: fields.userId, keyId: fields.keyId ?? null, model: fields.model, provider: fields.provider, costUsd, promptTokens, completionTokens: 2 * promptTokens }));
    at(noon(45), { userId: user, keyId: key, model: "gpt-x", provider: "openai" }, 0.5, 10);
    at(new Date(noon(45).getTime() + 60_000), { userId: user, keyId: key, model: "gpt-x", provider: "openai" }, 0.25, 5);
    at(noon(45), { userId: other, model: "claude-y", provider: "anthropic" }, 1, 7);
    at(noon(44), { userId: user, model: "gpt-x", provider: null }, 2, 3);
    at(new Date(), { userId: user, keyId: key, model: "gpt-x", provider: "openai" }, 4, 1);
    // A response-cache hit: nothing billed, what it saved counted.
    w.record(requestLogRow({ createdAt: noon(45), userId: other, model: "claude-y", provider: null, costUsd: 0, promptTokens: 0, completionTokens: 0, cacheHit: true, cacheSavedUsd: 0.125 }));
    await w.flush();

    const logs = createLogsService({ prisma: db.prisma });
    const admin = { id: randomUUID(), role: "ADMIN" as const };
    // From midnight UTC 46 days back: whole days only. Every grouping, an admin's view of
    // everyone, a user's own view and one key's.
    const from = new Date(Math.floor(Date.now() / DAY) * DAY - 46 * DAY).toISOString();
    const read = async () => ({
      ...Object.fromEntries(
        await Promise.all((["user", "key", "model", "provider", "day"] as const).map(async (groupBy) => [groupBy, await logs.summary(admin, { groupBy, from })])),
      ),
      ownView: await logs.summary({ id: user, role: "USER" }, { groupBy: "model", from }),
      keyView: await logs.summary(admin, { groupBy: "day", keyId: key }),
    });
    const before = await read();
    expect(before.ownView).toMatchObject({ total: { requests: 4, promptTokens: 19, completionTokens: 38 } });
    expect(before.user.groups.find((g: { key: string }) => g.key === other)).toMatchObject({ requests: 2, cacheHits: 1, cacheSavedUsd: 0.125 });

    expect(await w.prune()).toBeGreaterThanOrEqual(5);
    expect(await db.prisma.requestLog.count({ where: { userId: { in: [user, other] } } })).toBe(1);
    expect(await read()).toEqual(before);

    // A range that starts or ends inside a pruned day leaves that day's pruned part out
    // rather than count rows from outside the range.
    const own = { id: user, role: "USER" as const };
    const midDay = new Date(noon(45).getTime() + 30_000).toISOString();
    expect((await logs.summary(own, { groupBy: "day", from: midDay })).total).toMatchObject({ requests: 2, promptTokens: 4 });
    const endOf44 = new Date(noon(44).getTime() + DAY / 2 - 1).toISOString(); // 23:59:59.999
    expect((await logs.summary(own, { groupBy: "day", from, to: endOf44 })).total).toMatchObject({ requests: 3, promptTokens: 18 });
    const beforeEndOf44 = new Date(noon(44).getTime() + DAY / 2 - 2).toISOString();
    expect((await logs.summary(own, { groupBy: "day", from, to: beforeEndOf44 })).total).toMatchObject({ requests: 2, promptTokens: 15 });
  });

  it("counts a request no model answered or billed without its model name, which its caller may have made up, and a client-closed one with it, before and after a prune", async () => {
    const user = randomUUID();
    const w = writer();
    const longAgo = new Date(Math.floor(Date.now() / DAY) * DAY - 45 * DAY + DAY / 2);
    for (const model of ["made-up-1", "made-up-2", "made-up-3"]) w.record(requestLogRow({ createdAt: longAgo, userId: user, model, provider: null, status: 404, errorCode: "NOT_FOUND" }));
    w.record(requestLogRow({ createdAt: longAgo, userId: user, model: "gpt-x", provider: "openai", status: 200 }));
    // A stream cut after its first tokens failed, but was billed: its model answered.
    w.record(requestLogRow({ createdAt: longAgo, userId: user, model: "gpt-y", provider: "openai", status: 502, costUsd: 0.5 }));
    // A client that left before any token was billed: the model was answering, not refusing.
    w.record(requestLogRow({ createdAt: longAgo, userId: user, model: "gpt-z", provider: "openai", status: 499, costUsd: 0 }));
    await w.flush();
    const logs = createLogsService({ prisma: db.prisma });
    const byModel = () => logs.summary({ id: user, role: "USER" }, { groupBy: "model" }).then((s) => s.groups.map((g) => [g.key, g.requests]));
    const before = await byModel();
    expect(before).toEqual([["gpt-y", 1], ["(none)", 3], ["gpt-x", 1], ["gpt-z", 1]]);
    await w.prune();
    const rolled = await db.prisma.usageRollup.findMany({ where: { userId: user }, orderBy: { model: "asc" } });
    expect(rolled.map((r) => [r.model, r.requests])).toEqual([["", 3], ["gpt-x", 1], ["gpt-y", 1], ["gpt-z", 1]]);
    expect(await byModel()).toEqual(before);
  });

  it("keeps so many model names per user and day in the rollup, folding the rest into one \"(other)\" group", async () => {
    const [user, other] = [randomUUID(), randomUUID()];
    const capped = () => createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 30, log: () => {}, rollupModelsPerDay: 3 });
    const day = new Date(Math.floor(Date.now() / DAY) * DAY - 300 * DAY + DAY / 2);
    const billed = (userId: string, model: string) => requestLogRow({ createdAt: day, userId, model, provider: "openai", status: 200, costUsd: 0.01 });
    const first = capped();
    for (const model of ["m1", "m2"]) first.record(billed(user, model));
    await first.flush();
    await first.prune();
    // A later prune of the same day: a name it holds stays, one more fits (the most used), the rest are "(other)".
    const second = capped();
    for (const model of ["m2", "m3", "m4", "m5", "m5"]) second.record(billed(user, model));
    second.record(billed(other, "m5"));
    await second.flush();
    await second.prune();
    const names = async (userId: string) =>
      (await db.prisma.usageRollup.findMany({ where: { userId }, orderBy: { model: "asc" } })).map((r) => [r.model, r.requests]);
    expect(await names(user)).toEqual([["(other)", 2], ["m1", 1], ["m2", 2], ["m5", 2]]);
    expect(await names(other)).toEqual([["m5", 1]]);

    // The summary shows one "(other)" group, and every request counts.
    const summary = await createLogsService({ prisma: db.prisma }).summary({ id: user, role: "USER" }, { groupBy: "model" });
    expect(summary.total.requests).toBe(7);
    expect(summary.groups.filter((g) => g.key === "(other)")).toMatchObject([{ requests: 2, label: expect.stringMatching(/^Models past/) }]);
    expect(summary.groups.reduce((n, g) => n + g.requests, 0)).toBe(7);
  });

  it("two instances pruning at once, a batch at a time, count each row once", async () => {
    const user = randomUUID();
    const w = writer();
    for (let i = 0; i < 50; i++) w.record(row(new Date(Date.now() - (40 + (i % 3)) * DAY), { userId: user, keyId: null }, 0.01));
    await w.flush();
    // Batches of 7: each instance runs several statements, interleaved with the other's.
    const batched = () => createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 30, log: () => {}, pruneBatch: 7 });
    const pruned = await Promise.all([batched().prune(), batched().prune()]);
    expect(pruned[0] + pruned[1]).toBe(50);
    const folded = await db.prisma.prunedSpend.findMany({ where: { subject: `user:${user}` } });
    expect(folded).toHaveLength(3);
    expect(folded.reduce((n, d) => n + d.requests, 0)).toBe(50);
    expect(await createLoggedSpend(db.prisma).of(`user:${user}`, undefined)).toBeCloseTo(0.5, 10);
    const rolled = await db.prisma.usageRollup.findMany({ where: { userId: user } });
    expect(rolled).toHaveLength(3);
    expect(rolled.reduce((n, d) => n + d.requests, 0)).toBe(50);
  });
});
