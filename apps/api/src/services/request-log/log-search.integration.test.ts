/**
 * logs.list {q} on PostgreSQL and on the embedded PGlite: a substring of any of the six
 * searched columns finds its row whatever its case, and the trigram indexes serve the search.
 * The plan checked is that of the very statement Prisma sends (recorded by an adapter that
 * runs nothing), so a change in how Prisma writes the search cannot slip past the indexes.
 */
import { randomUUID } from "node:crypto";
import type { SqlDriverAdapterFactory, SqlQuery } from "@prisma/driver-adapter-utils";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase, type DatabaseFlavour } from "../../../test/database.ts";
import { requestLogRow } from "../../../test/request-log-row.ts";
import { PrismaClient } from "../../generated/prisma/client.ts";
import type { Database } from "../../infra/database.ts";
import { createLogWriter } from "./log-writer.ts";
import { createLogsService } from "./logs-service.ts";

const ADMIN = { id: randomUUID(), role: "ADMIN" as const };
const SEARCHED = ["requestId", "route", "model", "upstreamModel", "provider", "errorCode"] as const;
const INDEXES = SEARCHED.map((column) => `RequestLog_${column}_idx`);

/** One row per column, holding a word found nowhere else in that column only. */
const WORDS: Record<(typeof SEARCHED)[number], string> = {
  requestId: "req-Alpha-7f3a9c",
  route: "/v1/Bravo/completions",
  model: "Charlie-Model",
  upstreamModel: "delta-UPSTREAM-9",
  provider: "EchoProvider",
  errorCode: "FOXTROT_FAILED",
};

/** The statement Prisma compiles for a search, from an adapter that records it and runs nothing. */
async function searchStatement(q: string): Promise<SqlQuery> {
  const seen: SqlQuery[] = [];
  const queryable = {
    provider: "postgres" as const,
    adapterName: "recorder",
    queryRaw: async (query: SqlQuery) => (seen.push(query), { columnNames: [], columnTypes: [], rows: [] }),
    executeRaw: async () => 0,
  };
  const recorder: SqlDriverAdapterFactory = {
    provider: "postgres",
    adapterName: "recorder",
    connect: async () => ({
      ...queryable,
      executeScript: async () => {},
      startTransaction: () => Promise.reject(new Error("not used by a search")),
      dispose: async () => {},
    }),
  };
  const prisma = new PrismaClient({ adapter: recorder });
  try {
    await createLogsService({ prisma }).list(ADMIN, { q, limit: 100 }); // as the Logs page asks
  } finally {
    await prisma.$disconnect();
  }
  const search = seen.find((query) => /ILIKE/i.test(query.sql));
  if (!search) throw new Error(`no search statement among: ${seen.map((s) => s.sql).join(" | ")}`);
  return search;
}

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describe.each<DatabaseFlavour>(["PostgreSQL", "PGlite"])("log search on %s", (flavour) => {
  let db: Database;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    db = await openTestDatabase(flavour);
    const writer = createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 3650, log: () => {} });
    for (const column of SEARCHED) {
      const row = requestLogRow({ [column]: WORDS[column] });
      ids.set(column, row.requestId);
      writer.record(row);
    }
    for (let i = 0; i < 20; i++) writer.record(requestLogRow({ upstreamModel: "gpt-4o-mini", errorCode: i % 2 ? "UPSTREAM_TIMEOUT" : null }));
    await writer.flush();
  }, 120_000);

  afterAll(async () => {
    await db?.close();
  });

  const search = async (q: string) => (await createLogsService({ prisma: db.prisma }).list(ADMIN, { q, limit: 100 })).items.map((r) => r.requestId);

  it.each([
    ["requestId", "ALPHA-7F3"],
    ["route", "bravo/COMP"],
    ["model", "cHaRlIe"],
    ["upstreamModel", "Upstream-9"],
    ["provider", "echoprov"],
    ["errorCode", "trot_fail"],
  ] as const)("finds a row by a substring of its %s in another case (%s)", async (column, q) => {
    expect(await search(q)).toEqual([ids.get(column)]);
  });

  it("still finds rows by one or two characters, which no trigram covers", async () => {
    expect(await search("7F")).toContain(ids.get("requestId"));
    expect(await search("Z")).toEqual([]); // no column of any row holds a z
  });

  it("finds nothing for a word no column holds", async () => {
    expect(await search("zulu-nowhere")).toEqual([]);
  });

  it("plans the search on the six trigram indexes, one bitmap per column", async () => {
    const { sql, args } = await searchStatement("alpha-7f3");
    // With so few rows a scan is cheaper; turned off, the plan shows whether every arm of the
    // OR can be answered by an index (a single arm that cannot forces the table scan).
    const [row] = await db.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("SET LOCAL enable_seqscan = off");
      await tx.$executeRawUnsafe("SET LOCAL enable_indexscan = off");
      return tx.$queryRawUnsafe<[{ "QUERY PLAN": [{ Plan: PlanNode }] }]>(`EXPLAIN (FORMAT JSON) ${sql}`, ...args);
    });
    const plan = nodes(row["QUERY PLAN"][0].Plan);
    expect(plan.map((n) => n["Node Type"])).not.toContain("Seq Scan");
    expect(plan.filter((n) => n["Node Type"] === "Bitmap Index Scan").map((n) => n["Index Name"]).sort()).toEqual([...INDEXES].sort());
  });
});
