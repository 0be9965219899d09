/**
 * Reading the request log: lists with filters, one entry with its attempts, and spend
 * summaries. A USER reads only their own requests (another user's entry is "not found");
 * an ADMIN reads everyone's.
 */
import { roleAtLeast, type TLogAttempt, type TLogsListInput, type TRequestLog, type TRequestLogDetail, type TRole, type TUsageSummary, type TUsageSummaryInput } from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.ts";
import { utcTimestamp } from "../../infra/sql-time.ts";
import { runLongStatement } from "../../infra/statement-bounds.ts";
import { cursorPage } from "../cursor-page.ts";
import { AppError } from "../errors.ts";
import { rowsBelow } from "../keyset-page.ts";
import { likeText } from "../like-text.ts";
import { MODEL_ANSWERED_SQL } from "./answered-model.ts";

/** What a list keeps (its page and cursor aside). */
export type LogFilters = Omit<NonNullable<TLogsListInput>, "cursor" | "limit"> | undefined;

export interface Viewer {
  id: string;
  role: TRole;
}

/** What a list item shows: the bodies and attempts (up to ~64 KB a row) stay for logs.get. */
const LIST_OMITS = { requestBody: true, responseBody: true, attempts: true, ip: true, method: true } as const;

type Row = Prisma.RequestLogGetPayload<{ omit: typeof LIST_OMITS }>;

function item(r: Row): TRequestLog {
  return {
    id: r.id,
    requestId: r.requestId,
    createdAt: r.createdAt.toISOString(),
    userId: r.userId,
    keyId: r.keyId,
    route: r.route,
    model: r.model,
    provider: r.provider,
    upstreamModel: r.upstreamModel,
    status: r.status,
    errorCode: r.errorCode,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    cachedTokens: r.cachedTokens,
    costUsd: r.costUsd,
    latencyMs: r.latencyMs,
    ttftMs: r.ttftMs,
    stream: r.stream,
    tags: r.tags,
    cacheHit: r.cacheHit,
    cacheSavedUsd: r.cacheSavedUsd,
  };
}

/**
 * Groups a summary lists (the costliest); the rest are added up as one "(other)" group, so
 * the groups still add up to the total. Any user can make model names up; a summary must not
 * grow with them.
 */
export const MAX_GROUPS = 200;
export const OTHER_GROUP = "(other)";

/** What each grouping groups by (constants: they are put in the SQL text). */
const GROUP_COLUMNS: Record<TUsageSummaryInput["groupBy"], string> = {
  user: `"userId"`,
  key: `"keyId"`,
  // A request no model answered or billed has no model here (answered-model.ts), and an
  // empty name is no name: as pruned rows are rolled up (log-writer.ts).
  model: `CASE WHEN ${MODEL_ANSWERED_SQL} THEN nullif("model", '') END`,
  provider: `nullif("provider", '')`,
  day: `to_char(date_trunc('day', "createdAt"), 'YYYY-MM-DD')`,
  // Each of a row's tags (taggedRows below), NULL for an untagged row.
  tag: `"tag"`,
};
/**
 * The request log with a row per tag of each request (one, tag NULL, for a request without
 * tags): what grouping by tag reads.
 */
const TAGGED_ROWS = `"RequestLog" CROSS JOIN LATERAL unnest(CASE WHEN cardinality("tags") = 0 THEN ARRAY[NULL]::text[] ELSE "tags" END) AS t("tag")`;
/** The same groupings over UsageRollup (pruned rows), whose "none" is '' rather than NULL. */
const ROLLUP_GROUP_COLUMNS: Record<TUsageSummaryInput["groupBy"], string> = {
  user: `nullif("userId", '')`,
  key: `nullif("keyId", '')`,
  model: `nullif("model", '')`,
  provider: `nullif("provider", '')`,
  day: `to_char("day", 'YYYY-MM-DD')`,
  // Never read: the rollup keeps no tags (its rows are left out when grouping by tag).
  tag: `NULL::text`,
};

/** What usage.summary adds up, per group and in total. */
const SUMS = ["requests", "promptTokens", "completionTokens", "costUsd", "cacheHits", "cacheSavedUsd"] as const;
type Sum = (typeof SUMS)[number];
type Sums = Record<Sum, number>;
const allOf = (f: Sum) => `all${f[0]!.toUpperCase()}${f.slice(1)}` as const;

type SummaryRow = { key: string | null } & Sums & Record<ReturnType<typeof allOf>, number>;
/** Each sum over request-log rows, and over UsageRollup's (pruned rows, already summed per day). */
const LOG_SUMS: Record<Sum, string> = {
  requests: `count(*)`,
  promptTokens: `coalesce(sum("promptTokens"), 0)`,
  completionTokens: `coalesce(sum("completionTokens"), 0)`,
  costUsd: `coalesce(sum("costUsd"), 0)`,
  cacheHits: `count(*) FILTER (WHERE "cacheHit")`,
  cacheSavedUsd: `coalesce(sum("cacheSavedUsd"), 0)`,
};
const ROLLUP_SUMS = Object.fromEntries(SUMS.map((f) => [f, `sum("${f}")`])) as Record<Sum, string>;
/** `<sum> AS "<name>", …` for every sum (constants: put in the SQL text). */
const selectSums = (sql: (f: Sum) => string, name: (f: Sum) => string = (f) => f) => Prisma.raw(SUMS.map((f) => `${sql(f)}::float8 AS "${name(f)}"`).join(", "));
const sumsOf = (row: Partial<Record<string, unknown>> | undefined, name: (f: Sum) => string = (f) => f): Sums =>
  Object.fromEntries(SUMS.map((f) => [f, Number(row?.[name(f)] ?? 0)])) as Sums;

const STATUS_RANGES: Record<string, [number, number]> = { "2xx": [200, 299], "3xx": [300, 399], "4xx": [400, 499], "5xx": [500, 599], error: [400, 599] };

/** A row's place in the log's order, as `list` returns it (createdAt as ISO text). */
export interface LogPlace {
  createdAt: string;
  id: string;
}

function dateRange(from: string | undefined, to: string | undefined) {
  if (from && to && Date.parse(from) > Date.parse(to)) throw new AppError("BAD_REQUEST", "from must not be after to");
  return from || to ? { createdAt: { ...(from ? { gte: new Date(from) } : {}), ...(to ? { lte: new Date(to) } : {}) } } : {};
}

const whereOf = (conditions: Prisma.Sql[]) => (conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, " AND ")}` : Prisma.empty);

export function createLogsService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;
  const ownOnly = (viewer: Viewer) => !roleAtLeast(viewer.role, "ADMIN");

  /**
   * The rows a viewer's list reads with these filters (the cursor and limit aside): the one
   * rule for `list` and `countUpTo`, who reads what included.
   */
  function listed(viewer: Viewer, input: LogFilters): Prisma.RequestLogWhereInput {
    const status = input?.status;
    return {
      ...dateRange(input?.from, input?.to),
      // A USER filtering by someone else's id simply finds nothing of theirs.
      ...(ownOnly(viewer) ? { userId: viewer.id, ...(input?.userId && input.userId !== viewer.id ? { id: "" } : {}) } : input?.userId ? { userId: input.userId } : {}),
      ...(input?.keyId ? { keyId: input.keyId } : {}),
      ...(input?.provider ? { provider: input.provider } : {}),
      ...(input?.tag ? { tags: { has: input.tag } } : {}),
      ...(input?.cacheHit !== undefined ? { cacheHit: input.cacheHit } : {}),
      ...(input?.model ? { OR: [{ model: input.model }, { upstreamModel: input.model }] } : {}),
      ...(typeof status === "number" ? { status } : status ? { status: { gte: STATUS_RANGES[status]![0], lte: STATUS_RANGES[status]![1] } } : {}),
      ...(input?.q
        ? {
            AND: [
              {
                OR: (["requestId", "route", "model", "upstreamModel", "provider", "errorCode"] as const).map((f) => ({
                  [f]: { contains: likeText(input.q!), mode: "insensitive" as const },
                })),
              },
            ],
          }
        : {}),
    };
  }

  async function list(viewer: Viewer, input: TLogsListInput): Promise<{ items: TRequestLog[]; nextCursor: string | null }> {
    const limit = input?.limit ?? 50;
    const where = listed(viewer, input);
    const page = await cursorPage(prisma.requestLog, { cursor: input?.cursor, limit, within: ownOnly(viewer) ? { userId: viewer.id } : undefined }, (window) =>
      prisma.requestLog.findMany({ where, omit: LIST_OMITS, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...window }),
    );
    return { items: page.items.map(item), nextCursor: page.nextCursor };
  }

  /**
   * How many rows `list` pages through with these filters, counted no further than `atMost`.
   * In list's order, so the database walks the index list's pages walk, newest first, and stops
   * at `atMost`: up to 100,000, tens of milliseconds to a tenth of a second on a log of a
   * million rows (docs/keys.md, Numbers); a filter no index serves (`q`) reads what the others
   * leave in, as list's first page of it does. With `from` (a row as `list` returned it), only
   * the rows at or after it in that order: what pages that begin with it hold, so rows logged
   * since it was read (newer, above it) are not counted.
   */
  function countUpTo(viewer: Viewer, input: LogFilters, atMost: number, from?: LogPlace): Promise<number> {
    const where = listed(viewer, input);
    const fromPlace = from && rowsBelow("createdAt", { at: new Date(from.createdAt), id: from.id }, { including: true });
    return prisma.requestLog.count({ where: fromPlace ? { AND: [where, fromPlace] } : where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: atMost });
  }

  async function get(viewer: Viewer, id: string): Promise<TRequestLogDetail> {
    const row = await prisma.requestLog.findUnique({ where: { id } }).catch(() => null);
    if (!row || (ownOnly(viewer) && row.userId !== viewer.id)) throw new AppError("NOT_FOUND", "Log entry not found");
    return {
      ...item(row),
      ip: row.ip,
      method: row.method,
      attempts: (row.attempts as TLogAttempt[] | null) ?? [],
      requestBody: row.requestBody,
      responseBody: row.responseBody,
    };
  }

  /**
   * Totals and groups in one statement, summed by the database: one row per group however
   * many rows the range holds, and the totals (window sums over every group, taken before the
   * cut to the costliest MAX_GROUPS) always agree with the groups. Rows pruned past the
   * retention count through their day's rollup: a pruned day is counted when the whole day
   * lies in the range (a range that starts or ends inside one leaves its pruned part out, never
   * counts rows outside the range). By tag, the groups overlap (a request counts under each of
   * its tags) and only the request log is read (the rollup keeps no tags): the total is then
   * counted on its own, each request once, and tags past the cut are not listed.
   */
  async function summary(viewer: Viewer, input: TUsageSummaryInput): Promise<TUsageSummary> {
    dateRange(input.from, input.to); // refuses a range that ends before it starts
    const byTag = input.groupBy === "tag";
    const whose = [
      ...(ownOnly(viewer) ? [Prisma.sql`"userId" = ${viewer.id}`] : []),
      ...(input.keyId ? [Prisma.sql`"keyId" = ${input.keyId}`] : []),
    ];
    const logWhere = whereOf([
      ...(input.from ? [Prisma.sql`"createdAt" >= ${utcTimestamp(new Date(input.from))}`] : []),
      ...(input.to ? [Prisma.sql`"createdAt" <= ${utcTimestamp(new Date(input.to))}`] : []),
      // Containment, which the GIN index on "tags" serves (= ANY cannot use it).
      ...(input.tag ? [Prisma.sql`"tags" @> ARRAY[${input.tag}]::text[]`] : []),
      ...whose,
    ]);
    const rollupWhere = whereOf([
      // Whole days: from the first midnight at or after `from`, to the last day whose final
      // stored instant (timestamp(3)) is at or before `to`; as dates, so the index on "day" serves.
      ...(input.from ? [Prisma.sql`"day" >= (${utcTimestamp(new Date(input.from))} - interval '1 millisecond')::date + 1`] : []),
      ...(input.to ? [Prisma.sql`"day" <= (${utcTimestamp(new Date(input.to))} + interval '1 millisecond')::date - 1`] : []),
      // The rollup keeps no tags: a tag's usage is what the request log still holds.
      ...(input.tag || byTag ? [Prisma.sql`false`] : []),
      ...whose,
    ]);
    const byDay = input.groupBy === "day";
    // Days in order (one row per day); else the costliest first, ties broken down to the key
    // so the same groups make the cut every time.
    const order = byDay ? Prisma.sql`ORDER BY "key"` : Prisma.sql`ORDER BY "costUsd" DESC, "requests" DESC, "key" ASC NULLS FIRST LIMIT ${MAX_GROUPS}`;
    // A report over the whole request log may rightly run long: its own, longer bound.
    const rows = await runLongStatement(prisma, (tx) => tx.$queryRaw<SummaryRow[]>`
      SELECT g.*, ${selectSums((f) => `sum("${f}") OVER ()`, allOf)}
      FROM (
        SELECT "key", ${selectSums((f) => `sum("${f}")`)}
        FROM (
          SELECT ${Prisma.raw(GROUP_COLUMNS[input.groupBy])} AS "key", ${selectSums((f) => LOG_SUMS[f])}
          FROM ${Prisma.raw(byTag ? TAGGED_ROWS : `"RequestLog"`)} ${logWhere}
          GROUP BY 1
          UNION ALL
          SELECT ${Prisma.raw(ROLLUP_GROUP_COLUMNS[input.groupBy])}, ${selectSums((f) => ROLLUP_SUMS[f])}
          FROM "UsageRollup" ${rollupWhere}
          GROUP BY 1
        ) AS kept_and_pruned
        GROUP BY 1
      ) AS g
      ${order}`);
    // By tag the groups overlap: the total is the requests' own, counted once each.
    const total = byTag ? await logTotal(logWhere) : sumsOf(rows[0], allOf);
    // Models the usage rollup folded as "(other)" (past its names per day) join the groups
    // past the cut below: one "(other)", never two.
    const listed = byDay ? rows : rows.filter((r) => r.key !== OTHER_GROUP);
    const groups: TUsageSummary["groups"] = listed.map((r) => ({ key: r.key ?? "(none)", label: null, ...sumsOf(r) }));
    // Overlapping groups cannot be subtracted from the total: tags past the cut are not listed.
    if (!byDay && !byTag) {
      const fetched = rows.reduce((n, r) => n + Number(r.requests), 0);
      groups.push(...theRest(total, groups, fetched < total.requests, listed.length < rows.length));
      await label(groups, input.groupBy);
    }
    return { total, groups };
  }

  /** The requests of the request log a filter keeps, each counted once. */
  async function logTotal(logWhere: Prisma.Sql): Promise<TUsageSummary["total"]> {
    const [row] = await runLongStatement(prisma, (tx) => tx.$queryRaw<Sums[]>`SELECT ${selectSums((f) => LOG_SUMS[f])} FROM "RequestLog" ${logWhere}`);
    return sumsOf(row);
  }

  /** What the "(other)" group holds: groups past the cut, models the rollup folded, or both. */
  function restLabel(cut: boolean, foldedModels: boolean): string {
    if (!cut) return "Models past the names kept per user and day after pruning";
    return `Everything past the ${MAX_GROUPS} costliest${foldedModels ? ", and models past the names kept per user and day after pruning" : ""}`;
  }

  /**
   * The groups past the MAX_GROUPS costliest (`cut`), and models the usage rollup folded
   * (`foldedModels`), as one group; none when every group is listed.
   */
  function theRest(total: TUsageSummary["total"], shown: TUsageSummary["groups"], cut: boolean, foldedModels: boolean): TUsageSummary["groups"] {
    const rest = Object.fromEntries(SUMS.map((f) => [f, total[f] - shown.reduce((n, g) => n + g[f], 0)])) as Sums;
    if (rest.requests <= 0) return [];
    // Sums of floating-point costs may differ by a rounding error: never below nothing.
    return [{ key: OTHER_GROUP, label: restLabel(cut, foldedModels), ...rest, costUsd: Math.max(0, rest.costUsd), cacheSavedUsd: Math.max(0, rest.cacheSavedUsd) }];
  }

  async function label(groups: TUsageSummary["groups"], by: TUsageSummaryInput["groupBy"]): Promise<void> {
    const ids = groups.map((g) => g.key).filter((k) => k !== "(none)" && k !== OTHER_GROUP);
    if (ids.length === 0) return;
    const names =
      by === "user"
        ? new Map((await prisma.user.findMany({ where: { id: { in: ids } }, select: { id: true, email: true } })).map((u) => [u.id, u.email]))
        : by === "key"
          ? new Map((await prisma.apiKey.findMany({ where: { id: { in: ids } }, select: { id: true, name: true, prefix: true } })).map((k) => [k.id, `${k.name} (${k.prefix}…)`]))
          : undefined;
    if (!names) return;
    for (const g of groups) if (g.key !== OTHER_GROUP) g.label = names.get(g.key) ?? null;
  }

  return { list, countUpTo, get, summary };
}

export type LogsService = ReturnType<typeof createLogsService>;
