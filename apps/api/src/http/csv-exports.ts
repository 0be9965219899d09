/**
 * CSV downloads of what the Logs and Spend pages show, for a spreadsheet or a finance team:
 *   GET /api/logs/export.csv   the rows `logs.list` would list with the same filters (query
 *                              parameters of the same names), newest first, at most
 *                              LOG_EXPORT.maxRows, paged through `logs.list` itself; its
 *                              headers say how many rows it holds and whether more match
 *                              (LOG_EXPORT_HEADERS), so a cut export is never taken for whole;
 *   GET /api/usage/export.csv  `usage.summary`'s groups and a TOTAL row, same parameters.
 * They call the procedures with a server-side caller, so who may read what (a USER their own,
 * an ADMIN everyone's, an API key with read:metrics), the filters' validation and the emergency
 * guard are the procedures'.
 *
 * The first answer (and the log's count) is read before anything is sent, so a refusal is a
 * plain error status (and HEAD stops there: GET's status and headers, no export read for
 * nobody). A failure after that aborts the download (the connection is cut before the end of
 * the body: a client sees an incomplete transfer, never a clean end; the log says why), and so
 * does the end of the session or API key that asked (revoked, signed out, its user disabled
 * or demoted), as it ends every stream: no more pages are read for it. Rows are streamed as
 * they are read: memory stays one page deep however large the export; a log export takes one
 * of the user's stream slots while it runs.
 */
import { Readable } from "node:stream";
import { LOG_EXPORT, LOG_EXPORT_HEADERS, ZLogsListInput, type TLogsListInput, type TRequestLog, type TUsageSummary, type TUsageSummaryInput } from "@switchboard/schema";
import { stringify } from "csv-stringify";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { SESSION_ENDED_MESSAGE } from "../services/auth/credential-watch.ts";
import { AppError } from "../services/errors.ts";
import { credentialOf, type AuthedUser } from "../trpc/context.ts";
import { callerAs, callerFor, requestUser, sendProcedureError, type Caller } from "./procedure-caller.ts";
import "./route-features.ts";
import { takeStreamSlot } from "./stream-slots.ts";

/** The Logs page's columns, in order: a row's fields as `logs.list` returns them (tags space-separated). */
const LOG_COLUMNS: ReadonlyArray<keyof TRequestLog> = [
  "createdAt", "requestId", "status", "errorCode", "route", "model", "provider", "upstreamModel", "userId", "keyId",
  "promptTokens", "completionTokens", "cachedTokens", "costUsd", "cacheHit", "cacheSavedUsd", "latencyMs", "ttftMs", "stream", "tags", "id",
];

/**
 * logs.list's filters from the query string, whose values are all text: a numeric status is a
 * number there, `cacheHit` a boolean. What is not a filter (cursor, limit) is left out; what is
 * malformed is left for the procedure to refuse (400 naming it).
 */
function filtersOf(query: Record<string, unknown>): Record<string, unknown> {
  const { cursor: _cursor, limit: _limit, status, cacheHit, ...rest } = query;
  return {
    ...rest,
    ...(status !== undefined ? { status: typeof status === "string" && /^\d{1,3}$/.test(status) ? Number(status) : status } : {}),
    ...(cacheHit !== undefined ? { cacheHit: cacheHit === "true" ? true : cacheHit === "false" ? false : cacheHit } : {}),
  };
}

type Page = { items: TRequestLog[]; nextCursor: string | null };

/** Every row the filters keep, newest first, up to the cap; the first page already read. */
async function* rowsFrom(caller: Caller, filters: TLogsListInput, first: Page, cap: number) {
  let page = first;
  let sent = 0;
  for (;;) {
    for (const row of page.items) {
      if (sent === cap) return;
      sent += 1;
      yield LOG_COLUMNS.map((c) => (c === "tags" ? row.tags.join(" ") : row[c]));
    }
    if (page.nextCursor === null || sent === cap) return;
    page = await caller.logs.list({ ...filters, cursor: page.nextCursor, limit: LOG_EXPORT.pageRows });
  }
}

/**
 * The export's size headers: the rows it holds, and whether more match than the cap. A first
 * page that holds every match is its own count; otherwise the request log counts, through
 * logs.list's filters and who-reads-what (one rule, in the service), and no further than
 * cap + 1. The filters are those the first page's logs.list has accepted.
 */
async function sizeHeaders(deps: AppDeps, user: AuthedUser, filters: TLogsListInput, first: Page, cap: number) {
  // Counted from the first page's first row: rows logged since that page was read are newer,
  // never written, and so not counted either (a busy log's count ran ahead of its file).
  const matching = first.nextCursor === null ? first.items.length : await deps.requestLog.countUpTo(user, ZLogsListInput.parse(filters), cap + 1, first.items[0]);
  return { [LOG_EXPORT_HEADERS.rows]: String(Math.min(matching, cap)), [LOG_EXPORT_HEADERS.truncated]: String(matching > cap) };
}

/** The Spend page's columns: a group's fields as `usage.summary` returns them. */
const USAGE_COLUMNS = ["key", "label", "requests", "promptTokens", "completionTokens", "costUsd", "cacheHits", "cacheSavedUsd"] as const;

function* usageRows(summary: TUsageSummary) {
  for (const g of summary.groups) yield USAGE_COLUMNS.map((c) => g[c]);
  yield USAGE_COLUMNS.map((c) => (c === "key" ? "TOTAL" : c === "label" ? null : summary.total[c]));
}

/** What ends a download early (the end of the credential that asked), and what its end frees. */
interface Until {
  signal: AbortSignal;
  stop(): void;
}

/**
 * Streams rows as CSV, a header line first (HEAD: the headers alone). A cell a spreadsheet
 * would run as a formula (text starting with = + - @: a model name or a tag can be any text a
 * caller sent) is quoted out.
 */
function sendCsv(request: FastifyRequest, reply: FastifyReply, file: { name: string; columns: readonly string[]; rows: Iterable<unknown[]> | AsyncIterable<unknown[]> }, until?: Until) {
  const day = new Date().toISOString().slice(0, 10);
  void reply
    .header("content-type", "text/csv; charset=utf-8")
    .header("content-disposition", `attachment; filename="switchboard-${file.name}-${day}.csv"`)
    .header("cache-control", "no-store");
  if (request.method === "HEAD") {
    until?.stop();
    return reply.send();
  }
  const csv = stringify({ header: true, columns: [...file.columns], escape_formulas: true, cast: { boolean: (b) => String(b), date: (d) => d.toISOString() } });
  const rows = Readable.from(file.rows);
  rows.on("error", (error) => {
    request.log.warn({ err: error }, "CSV export ended early");
    csv.destroy(error);
  });
  until?.signal.addEventListener("abort", () => rows.destroy(new AppError("UNAUTHORIZED", SESSION_ENDED_MESSAGE)), { once: true });
  csv.once("close", () => {
    until?.stop();
    rows.destroy();
  });
  return reply.send(rows.pipe(csv));
}

/** What the log export's headers say, for openapi.json. */
const LOG_EXPORT_DOC_HEADERS = {
  [LOG_EXPORT_HEADERS.rows]: "Rows the file holds: every row that matched when the export began, or the cap",
  [LOG_EXPORT_HEADERS.truncated]: `"true" when more rows match than the cap (the file holds the newest ${LOG_EXPORT.maxRows.toLocaleString("en")}; narrow from/to for the rest), else "false"`,
};

const doc = (summary: string) => ({
  summary,
  tags: ["logs"],
  auth: "bearer" as const,
  responseContentType: "text/csv",
  responses: { 400: "A parameter is malformed", 403: "An API key without read:metrics" },
});

export function registerCsvExports(app: FastifyInstance, deps: AppDeps): void {
  app.get(
    "/api/logs/export.csv",
    { config: { feature: "admin-read", openapi: { ...doc(`The request log as CSV (logs.list's filters; newest first, at most ${LOG_EXPORT.maxRows.toLocaleString("en")} rows)`), responseHeaders: LOG_EXPORT_DOC_HEADERS } } },
    async (request, reply) => {
      const filters = filtersOf((request.query ?? {}) as Record<string, unknown>) as TLogsListInput;
      const cap = deps.requestLog.exportMaxRows;
      let user: AuthedUser | null;
      let caller: Caller;
      let first: Page;
      try {
        user = await requestUser(deps, request);
        caller = callerAs(deps, user, request, reply);
        first = await caller.logs.list({ ...filters, limit: LOG_EXPORT.pageRows });
      } catch (error) {
        return sendProcedureError(reply, error);
      }
      // (logs.list has refused a request without a user.)
      if (!user) return sendProcedureError(reply, new AppError("UNAUTHORIZED", SESSION_ENDED_MESSAGE));
      // A long export holds a query's worth of work a page and a socket, as a stream does: it
      // takes one of the user's stream slots (STREAMS_PER_USER), so no one opens a hundred.
      // The slot is taken before the count, so no one runs more counts at once than exports.
      let release: () => void = () => {};
      try {
        release = takeStreamSlot(deps, { user, ip: request.ip });
        void reply.headers(await sizeHeaders(deps, user, filters, first, cap));
      } catch (error) {
        release();
        return sendProcedureError(reply, error);
      }
      const watch = deps.credentials.watch(credentialOf(user), user.changesSeen);
      const until = { signal: watch.signal, stop: () => (watch.stop(), release()) };
      return sendCsv(request, reply, { name: "requests", columns: LOG_COLUMNS, rows: rowsFrom(caller, filters, first, cap) }, until);
    },
  );

  app.get(
    "/api/usage/export.csv",
    { config: { feature: "admin-read", openapi: doc("Spend as CSV: usage.summary's groups and a TOTAL row (its parameters)") } },
    async (request, reply) => {
      const input = request.query as TUsageSummaryInput;
      let summary: TUsageSummary;
      try {
        summary = await (await callerFor(deps, request, reply)).usage.summary(input);
      } catch (error) {
        return sendProcedureError(reply, error);
      }
      // groupBy is one of the procedure's few names once it has answered.
      return sendCsv(request, reply, { name: `usage-by-${input.groupBy}`, columns: USAGE_COLUMNS, rows: usageRows(summary) });
    },
  );
}
