/**
 * usage.summary on PostgreSQL and on the embedded PGlite, computed by the database: by day,
 * each UTC day's requests, tokens and cost whatever the session's time zone (the PostgreSQL
 * connection here runs at UTC+14), with the same filters as every grouping (a USER's own
 * rows, one key, a from/to range); by model, the costliest groups and the rest as one, so a
 * summary stays small however many model names callers make up; by tag, overlapping groups.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../../test/database.ts";
import { requestLogRow } from "../../../test/request-log-row.ts";
import { openDatabase, type Database } from "../../infra/database.ts";
import { createLogWriter } from "./log-writer.ts";
import { createLogsService, MAX_GROUPS, OTHER_GROUP } from "./logs-service.ts";

describe.each(["PostgreSQL", "PGlite"])("usage summary on %s", (flavour) => {
  let testDb: { url: string; drop(): Promise<void> } | undefined;
  let db: Database;
  let dataDir: string;
  let writer: ReturnType<typeof createLogWriter>;
  const user = randomUUID();
  const other = randomUUID();
  const key = randomUUID();

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "switchboard-usage-"));
    if (flavour === "PostgreSQL") testDb = await createTestDatabase();
    const url = testDb ? `${testDb.url}${testDb.url.includes("?") ? "&" : "?"}options=${encodeURIComponent("-c TimeZone=Pacific/Kiritimati")}` : undefined;
    db = await openDatabase({ databaseUrl: url, dataDir });
    writer = createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 3650, log: () => {} });
    const at = (iso: string, who: { userId: string; keyId?: string }, costUsd: number, tokens: number) =>
      writer.record(requestLogRow({ createdAt: new Date(iso), userId: who.userId, keyId: who.keyId ?? null, costUsd, promptTokens: tokens, completionTokens: 2 * tokens }));
    // Either side of midnight UTC, which is mid-afternoon at UTC+14.
    at("2026-11-01T23:59:59.500Z", { userId: user, keyId: key }, 0.5, 10);
    at("2026-11-01T08:00:00.000Z", { userId: user }, 0.25, 5);
    at("2026-11-02T00:00:00.000Z", { userId: user, keyId: key }, 1, 20);
    at("2026-11-02T13:00:00.000Z", { userId: other }, 4, 40);
    at("2026-11-04T12:00:00.000Z", { userId: user }, 2, 1);
    await writer.flush();
  }, 120_000);

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const days = async (viewer: { id: string; role: "USER" | "ADMIN" }, input: Record<string, string> = {}) =>
    (await createLogsService({ prisma: db.prisma }).summary(viewer, { groupBy: "day", ...input })).groups.map((g) => [g.key, g.requests, g.promptTokens, g.completionTokens, g.costUsd]);

  it("adds up each UTC day of everyone's rows for an ADMIN, in day order", async () => {
    if (flavour === "PostgreSQL") {
      const [zone] = await db.prisma.$queryRawUnsafe<[{ zone: string }]>(`SELECT current_setting('TimeZone') AS zone`);
      expect(zone.zone).toBe("Pacific/Kiritimati");
    }
    expect(await days({ id: randomUUID(), role: "ADMIN" })).toEqual([
      ["2026-11-01", 2, 15, 30, 0.75],
      ["2026-11-02", 2, 60, 120, 5],
      ["2026-11-04", 1, 1, 2, 2],
    ]);
  });

  it("keeps a USER to their own rows, and filters by key and by range", async () => {
    expect(await days({ id: user, role: "USER" })).toEqual([
      ["2026-11-01", 2, 15, 30, 0.75],
      ["2026-11-02", 1, 20, 40, 1],
      ["2026-11-04", 1, 1, 2, 2],
    ]);
    expect(await days({ id: user, role: "USER" }, { keyId: key })).toEqual([
      ["2026-11-01", 1, 10, 20, 0.5],
      ["2026-11-02", 1, 20, 40, 1],
    ]);
    expect(await days({ id: randomUUID(), role: "ADMIN" }, { from: "2026-11-01T23:59:59.500Z", to: "2026-11-02T00:00:00Z" })).toEqual([
      ["2026-11-01", 1, 10, 20, 0.5],
      ["2026-11-02", 1, 20, 40, 1],
    ]);
    // Bounds given with an offset are the same instants.
    expect(await days({ id: randomUUID(), role: "ADMIN" }, { from: "2026-11-02T13:59:59.999+14:00", to: "2026-11-02T14:00:00+14:00" })).toEqual([
      ["2026-11-02", 1, 20, 40, 1],
    ]);
  });

  it("by model: the costliest groups, then everything else as one group, adding up to the total", async () => {
    const made = randomUUID();
    // Many made-up model names, each cheaper than the last, all costlier than the rows above.
    for (let i = 0; i < MAX_GROUPS + 5; i++) {
      writer.record(requestLogRow({ createdAt: new Date("2026-11-10T00:00:00Z"), userId: made, model: `made-up-${i}`, costUsd: 1000 - i, promptTokens: 1, completionTokens: 1 }));
    }
    await writer.flush();
    const summary = await createLogsService({ prisma: db.prisma }).summary({ id: randomUUID(), role: "ADMIN" }, { groupBy: "model" });
    expect(summary.groups).toHaveLength(MAX_GROUPS + 1);
    expect(summary.groups.slice(0, 3).map((g) => g.key)).toEqual(["made-up-0", "made-up-1", "made-up-2"]);
    const rest = summary.groups.at(-1)!;
    // Five made-up names and the five rows of the first test (model "auto") did not fit.
    expect(rest).toMatchObject({ key: OTHER_GROUP, requests: 10, label: expect.stringContaining(String(MAX_GROUPS)) });
    const sum = (f: "requests" | "promptTokens" | "completionTokens" | "costUsd") => summary.groups.reduce((n, g) => n + g[f], 0);
    expect(sum("requests")).toBe(summary.total.requests);
    expect(sum("promptTokens")).toBe(summary.total.promptTokens);
    expect(sum("costUsd")).toBeCloseTo(summary.total.costUsd, 6);
  });

  it("by tag: a request counts under each of its tags and an untagged one under (none); the total counts each request once", async () => {
    const team = { id: randomUUID(), role: "USER" as const };
    const row = (tags: string[], costUsd: number) => writer.record(requestLogRow({ createdAt: new Date("2026-11-12T00:00:00Z"), userId: team.id, tags, costUsd, promptTokens: 1, completionTokens: 1 }));
    row(["team:search", "env=prod"], 1);
    row(["team:search", "env=prod"], 1);
    row(["team:search"], 1);
    row([], 0.5);
    await writer.flush();
    const summary = await createLogsService({ prisma: db.prisma }).summary(team, { groupBy: "tag" });
    expect(summary.groups.map((g) => [g.key, g.requests, g.costUsd])).toEqual([
      ["team:search", 3, 3],
      ["env=prod", 2, 2],
      ["(none)", 1, 0.5],
    ]);
    expect(summary.total).toEqual({ requests: 4, promptTokens: 4, completionTokens: 4, costUsd: 3.5, cacheHits: 0, cacheSavedUsd: 0 });
    // Narrowed to one tag: the requests carrying it, grouped by every tag they carry.
    const search = await createLogsService({ prisma: db.prisma }).summary(team, { groupBy: "tag", tag: "env=prod" });
    expect(search.groups.map((g) => [g.key, g.requests])).toEqual([["env=prod", 2], ["team:search", 2]]);
    expect(search.total.requests).toBe(2);
  });
});
