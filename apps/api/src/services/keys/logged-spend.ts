/**
 * Spend as the database has it: the request log's rows, plus what rows already pruned had
 * cost (PrunedSpend, per budget subject and UTC day, folded in by the request log's prune).
 * Budget periods start at midnight UTC, so a pruned day is either wholly inside a period or
 * wholly outside it.
 *
 * Each figure is one SQL statement: a prune moves rows from one table to the other in one
 * statement, and two separate reads could see both sides of it (counting the rows twice) or
 * neither. A subject's whole history is long by design (a busy key's first read), and a read
 * cancelled under the bound every other statement has would be cancelled on every retry, its
 * caller refused meanwhile: these reads run under the longer bound (runLongStatement).
 */
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { utcTimestamp } from "../../infra/sql-time.ts";
import { runLongStatement } from "../../infra/statement-bounds.ts";
import type { HourlyCostliest, SpendSubject } from "./spend-ledger.ts";

export interface SpendFigures {
  /** Since the subject first spent. */
  total: number;
  /** Since its budget period began. */
  period: number;
  requests: number;
}

/**
 * The condition a subject's request-log rows meet, `id` being the SQL of its id (a
 * parameter or a column; the rest is constant: it is put in the SQL text). A tag's rows are
 * found by containment, which the GIN index on "tags" serves.
 */
function rowsOf(subject: SpendSubject, id: string, table = ""): string {
  if (subject.startsWith("tag:")) return `${table}"tags" @> ARRAY[${id}]::text[]`;
  return `${table}${subject.startsWith("user:") ? `"userId"` : `"keyId"`} = ${id}`;
}
const idOf = (subject: SpendSubject) => subject.slice(subject.indexOf(":") + 1);
/** As the request log stores times: UTC without a zone. */
const utc = (d: Date | undefined) => (d ? d.toISOString().replace("Z", "") : null);

const spentSince = (rows: string) => `SELECT
  (SELECT coalesce(sum("costUsd"), 0) FROM "RequestLog" WHERE ${rows} AND ($3::timestamp(3) IS NULL OR "createdAt" >= $3::timestamp(3)))
  + (SELECT coalesce(sum("costUsd"), 0) FROM "PrunedSpend" WHERE "subject" = $2 AND ($3::timestamp(3) IS NULL OR "day" >= $3::timestamp(3)::date))
  AS spent`;

const subjectsSpend = (rows: string) => `SELECT s."subject",
  (SELECT coalesce(sum("costUsd"), 0) FROM "RequestLog" r WHERE ${rows})
    + (SELECT coalesce(sum("costUsd"), 0) FROM "PrunedSpend" p WHERE p."subject" = s."subject") AS total,
  (SELECT coalesce(sum("costUsd"), 0) FROM "RequestLog" r WHERE ${rows} AND r."createdAt" >= coalesce(s."since", '-infinity'))
    + (SELECT coalesce(sum("costUsd"), 0) FROM "PrunedSpend" p WHERE p."subject" = s."subject" AND p."day" >= coalesce(s."since"::date, '-infinity')) AS period,
  (SELECT count(*) FROM "RequestLog" r WHERE ${rows})
    + (SELECT coalesce(sum("requests"), 0) FROM "PrunedSpend" p WHERE p."subject" = s."subject") AS requests
FROM jsonb_to_recordset($1::jsonb) AS s("subject" text, "id" text, "since" timestamp(3))`;
/**
 * The same figures for tags, in one pass over the rows carrying any of them (the GIN index
 * finds those) rather than three scans per tag: a list of hundreds of tag budgets is one read.
 */
const tagsSpend = `WITH s AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS s("subject" text, "id" text, "since" timestamp(3))),
logged AS (
  SELECT t."tag", sum(r."costUsd") AS total, coalesce(sum(r."costUsd") FILTER (WHERE r."createdAt" >= coalesce(s."since", '-infinity')), 0) AS period, count(*) AS requests
  FROM "RequestLog" r CROSS JOIN LATERAL unnest(r."tags") AS t("tag") JOIN s ON s."id" = t."tag"
  WHERE r."tags" && (SELECT array_agg("id") FROM s)
  GROUP BY t."tag"
), pruned AS (
  SELECT p."subject", sum(p."costUsd") AS total, coalesce(sum(p."costUsd") FILTER (WHERE p."day" >= coalesce(s."since"::date, '-infinity')), 0) AS period, sum(p."requests") AS requests
  FROM "PrunedSpend" p JOIN s ON s."subject" = p."subject"
  GROUP BY p."subject"
)
SELECT s."subject", coalesce(l.total, 0) + coalesce(p.total, 0) AS total, coalesce(l.period, 0) + coalesce(p.period, 0) AS period,
  coalesce(l.requests, 0) + coalesce(p.requests, 0) AS requests
FROM s LEFT JOIN logged l ON l."tag" = s."id" LEFT JOIN pruned p ON p."subject" = s."subject"`;
// (A range against coalesce(…, '-infinity') rather than "IS NULL OR …", so each subquery
// can use the (userId|keyId, createdAt) index.)

export function createLoggedSpend(prisma: PrismaClient) {
  return {
    /** One subject's spend since `from` (all of it when undefined). */
    async of(subject: SpendSubject, from: Date | undefined): Promise<number> {
      const [row] = await runLongStatement(prisma, (tx) => tx.$queryRawUnsafe<[{ spent: number }]>(spentSince(rowsOf(subject, "$1")), idOf(subject), subject, utc(from)));
      return Number(row.spent);
    },

    /**
     * The costliest request of each hour since `from`, by the hour's start (what the budget
     * ledger prices requests in flight at); when there is none, of the latest hour before
     * that has any, so a quiet day does not lose the figure.
     */
    async costliestByHour(from: Date): Promise<HourlyCostliest[]> {
      // extract(epoch) of a zone-less timestamp counts from 1970-01-01 as written: UTC here. A numeric (Decimal) to Number.
      const recent = await prisma.$queryRaw<Array<{ hourMs: unknown; costUsd: number }>>`
        SELECT extract(epoch FROM date_trunc('hour', "createdAt")) * 1000 AS "hourMs", max("costUsd") AS "costUsd"
        FROM "RequestLog" WHERE "createdAt" >= ${utcTimestamp(from)} GROUP BY 1`;
      const rows =
        recent.length > 0
          ? recent
          : await prisma.$queryRaw<Array<{ hourMs: unknown; costUsd: number }>>`
        WITH latest AS (SELECT date_trunc('hour', max("createdAt")) AS hour FROM "RequestLog" WHERE "createdAt" < ${utcTimestamp(from)})
        SELECT extract(epoch FROM latest.hour) * 1000 AS "hourMs", max(r."costUsd") AS "costUsd"
        FROM latest JOIN "RequestLog" r ON r."createdAt" >= latest.hour AND r."createdAt" < latest.hour + interval '1 hour'
        GROUP BY latest.hour`;
      return rows.map((r) => ({ hourMs: Number(r.hourMs), costUsd: Number(r.costUsd) }));
    },

    /** Per subject: its total, its spend since its period began (`from`), its requests. One statement per kind (keys, users, tags). */
    async ofSubjects(subjects: ReadonlyArray<{ subject: SpendSubject; from: Date | undefined }>): Promise<Map<SpendSubject, SpendFigures>> {
      const out = new Map<SpendSubject, SpendFigures>();
      for (const kind of ["key:", "user:", "tag:"]) {
        const ofKind = subjects.filter((s) => s.subject.startsWith(kind));
        if (ofKind.length === 0) continue;
        const json = JSON.stringify(ofKind.map((s) => ({ subject: s.subject, id: idOf(s.subject), since: utc(s.from) })));
        const rows = await runLongStatement(prisma, (tx) => tx.$queryRawUnsafe<Array<{ subject: SpendSubject; total: number; period: number; requests: bigint | number }>>(kind === "tag:" ? tagsSpend : subjectsSpend(rowsOf(ofKind[0]!.subject, `s."id"`, "r.")), json));
        for (const r of rows) out.set(r.subject, { total: Number(r.total), period: Number(r.period), requests: Number(r.requests) });
      }
      return out;
    },
  };
}

export type LoggedSpend = ReturnType<typeof createLoggedSpend>;
