/**
 * Reading the request log: lists with filters, one entry with its attempts, and spend
 * summaries. A USER reads only their own requests (another user's entry is "not found");
 * an ADMIN reads everyone's.
 */
import { roleAtLeast, type TLogAttempt, type TLogsListInput, type TRequestLog, type TRequestLogDetail, type TRole, type TUsageSummary, type TUsageSummaryInput } from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.ts";
import { utcTimestamp } from "../../infra/sql-time.ts";
import { AppError } from "../errors.ts";

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
  };
}

/**
 * Groups a summary lists (the costliest); the rest are added up as one "(other)" group, so
 * the groups still add up to the total. Any user can make model names up; a summary must not
 * grow with them.
 */
export const MAX_GROUPS = 200;
export const OTHER_GROUP = "(other)";

const STATUS_RANGES: Record<string, [number, number]> = { "2xx": [200, 299], "3xx": [300, 399], "4xx": [400, 499], "5xx": [500, 599], error: [400, 599] };

function dateRange(from: string | undefined, to: string | undefined) {
  if (from && to && Date.parse(from) > Date.parse(to)) throw new AppError("BAD_REQUEST", "from must not be after to");
  return from || to ? { createdAt: { ...(from ? { gte: new Date(from) } : {}), ...(to ? { lte: new Date(to) } : {}) } } : {};
}

export function createLogsService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;
  const ownOnly = (viewer: Viewer) => !roleAtLeast(viewer.role, "ADMIN");

  async function list(viewer: Viewer, input: TLogsListInput): Promise<{ items: TRequestLog[]; nextCursor: string | null }> {
    const limit = input?.limit ?? 50;
    const status = input?.status;
    const where: Prisma.RequestLogWhereInput = {
      ...dateRange(input?.from, input?.to),
      // A USER filtering by someone else's id simply finds nothing of theirs.
      ...(ownOnly(viewer) ? { userId: viewer.id, ...(input?.userId && input.userId !== viewer.id ? { id: "" } : {}) } : input?.userId ? { userId: input.userId } : {}),
      ...(input?.keyId ? { keyId: input.keyId } : {}),
      ...(input?.provider ? { provider: input.provider } : {}),
      ...(input?.model ? { OR: [{ model: input.model }, { upstreamModel: input.model }] } : {}),
      ...(typeof status === "number" ? { status } : status ? { status: { gte: STATUS_RANGES[status]![0], lte: STATUS_RANGES[status]![1] } } : {}),
      ...(input?.q
        ? {
            AND: [
              {
                OR: (["requestId", "route", "model", "upstreamModel", "provider", "errorCode"] as const).map((f) => ({
                  [f]: { contains: input.q, mode: "insensitive" as const },
                })),
              },
            ],
          }
        : {}),
    };
    const rows = await prisma.requestLog.findMany({
      where,
      omit: LIST_OMITS,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit + 1,
      ...(input?.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
    });
    const page = rows.slice(0, limit);
    return { items: page.map(item), nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
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
   * The groups past the MAX_GROUPS costliest, as one: what the total holds and the groups
   * shown do not (none when nothing is left).
   */
  function theRest(total: TUsageSummary["total"], shown: TUsageSummary["groups"]): TUsageSummary["groups"] {
    const sum = (f: "requests" | "promptTokens" | "completionTokens" | "costUsd") => shown.reduce((n, g) => n + g[f], 0);
    const requests = total.requests - sum("requests");
    if (requests <= 0) return [];
    return [
      {
        key: OTHER_GROUP,
        label: `Everything past the ${MAX_GROUPS} costliest`,
        requests,
        promptTokens: Math.max(0, total.promptTokens - sum("promptTokens")),
        completionTokens: Math.max(0, total.completionTokens - sum("completionTokens")),
        costUsd: Math.max(0, total.costUsd - sum("costUsd")),
      },
    ];
  }

  async function summary(viewer: Viewer, input: TUsageSummaryInput): Promise<TUsageSummary> {
    const where: Prisma.RequestLogWhereInput = {
      ...dateRange(input.from, input.to),
      ...(ownOnly(viewer) ? { userId: viewer.id } : {}),
      ...(input.keyId ? { keyId: input.keyId } : {}),
    };
    const totals = await prisma.requestLog.aggregate({ where, _count: { _all: true }, _sum: { promptTokens: true, completionTokens: true, costUsd: true } });
    const total = {
      requests: totals._count._all,
      promptTokens: totals._sum.promptTokens ?? 0,
      completionTokens: totals._sum.completionTokens ?? 0,
      costUsd: totals._sum.costUsd ?? 0,
    };
    let groups: TUsageSummary["groups"];
    if (input.groupBy === "day") {
      groups = await byDay(viewer, input);
    } else {
      const field = ({ user: "userId", key: "keyId", model: "model", provider: "provider" } as const)[input.groupBy];
      const rows = await prisma.requestLog.groupBy({
        by: [field],
        where,
        _count: { _all: true },
        _sum: { promptTokens: true, completionTokens: true, costUsd: true },
        orderBy: [{ _sum: { costUsd: "desc" } }, { _count: { [field]: "desc" } }],
        take: MAX_GROUPS,
      });
      groups = rows.map((r) => ({
        key: (r as Record<string, unknown>)[field] as string | null ?? "(none)",
        label: null,
        requests: r._count._all,
        promptTokens: r._sum.promptTokens ?? 0,
        completionTokens: r._sum.completionTokens ?? 0,
        costUsd: r._sum.costUsd ?? 0,
      }));
      groups.sort((a, b) => b.costUsd - a.costUsd || b.requests - a.requests);
      if (rows.length === MAX_GROUPS) groups.push(...theRest(total, groups));
      await label(groups, input.groupBy);
    }
    return { total, groups };
  }

  /**
   * Per UTC day, summed by the database: a range over millions of rows is still one row per
   * day here (reading the rows to add them up held them all in memory at once).
   */
  async function byDay(viewer: Viewer, input: TUsageSummaryInput): Promise<TUsageSummary["groups"]> {
    const conditions = [
      ...(input.from ? [Prisma.sql`"createdAt" >= ${utcTimestamp(new Date(input.from))}`] : []),
      ...(input.to ? [Prisma.sql`"createdAt" <= ${utcTimestamp(new Date(input.to))}`] : []),
      ...(ownOnly(viewer) ? [Prisma.sql`"userId" = ${viewer.id}`] : []),
      ...(input.keyId ? [Prisma.sql`"keyId" = ${input.keyId}`] : []),
    ];
    const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, " AND ")}` : Prisma.empty;
    const rows = await prisma.$queryRaw<Array<{ day: string; requests: bigint; promptTokens: bigint | null; completionTokens: bigint | null; costUsd: number | null }>>`
      SELECT to_char(date_trunc('day', "createdAt"), 'YYYY-MM-DD') AS "day", count(*) AS "requests",
        sum("promptTokens") AS "promptTokens", sum("completionTokens") AS "completionTokens", sum("costUsd") AS "costUsd"
      FROM "RequestLog" ${where}
      GROUP BY 1 ORDER BY 1`;
    return rows.map((r) => ({
      key: r.day,
      label: null,
      requests: Number(r.requests),
      promptTokens: Number(r.promptTokens ?? 0),
      completionTokens: Number(r.completionTokens ?? 0),
      costUsd: Number(r.costUsd ?? 0),
    }));
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

  return { list, get, summary };
}

export type LogsService = ReturnType<typeof createLogsService>;
