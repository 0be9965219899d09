/**
 * GET /api/logs/export.csv: the request log as CSV, for a spreadsheet or a finance team — the
 * rows `logs.list` would list with the same filters (query parameters of the same names), newest
 * first, at most LOG_EXPORT.maxRows. It pages through `logs.list` itself with a server-side
 * caller, so who may read which rows (a USER their own, an ADMIN everyone's, an API key with
 * read:metrics), the filters' validation and the emergency guard are the procedure's.
 *
 * The first page is read before anything is sent, so a refusal is a plain error status; a
 * failure after that ends the download early (the log says why). The rows are streamed as
 * they are read: memory stays one page deep however large the export.
 */
import { Readable } from "node:stream";
import { LOG_EXPORT, type TLogsListInput, type TRequestLog } from "@switchboard/schema";
import { stringify } from "csv-stringify";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { callerFor, sendProcedureError, type Caller } from "./procedure-caller.ts";
import "./route-features.ts";

export const LOGS_EXPORT_PATH = "/api/logs/export.csv";

/** The columns, in order: a row's fields as `logs.list` returns them (tags space-separated). */
const COLUMNS: ReadonlyArray<keyof TRequestLog> = [
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

/** Every row the filters keep, newest first, up to the cap; the first page already read. */
async function* rowsFrom(caller: Caller, filters: TLogsListInput, first: { items: TRequestLog[]; nextCursor: string | null }) {
  let page = first;
  let sent = 0;
  for (;;) {
    for (const row of page.items) {
      if (sent === LOG_EXPORT.maxRows) return;
      sent += 1;
      yield COLUMNS.map((c) => (c === "tags" ? row.tags.join(" ") : row[c]));
    }
    if (page.nextCursor === null || sent === LOG_EXPORT.maxRows) return;
    page = await caller.logs.list({ ...filters, cursor: page.nextCursor, limit: LOG_EXPORT.pageRows });
  }
}

export function registerLogsExport(app: FastifyInstance, deps: AppDeps): void {
  app.get(
    LOGS_EXPORT_PATH,
    {
      config: {
        feature: "admin-read",
        openapi: {
          summary: `The request log as CSV (logs.list's filters; newest first, at most ${LOG_EXPORT.maxRows.toLocaleString("en")} rows)`,
          tags: ["logs"],
          auth: "bearer",
          responseContentType: "text/csv",
          responses: { 400: "A filter is malformed", 403: "An API key without read:metrics" },
        },
      },
    },
    async (request: FastifyRequest, reply) => {
      const filters = filtersOf((request.query ?? {}) as Record<string, unknown>) as TLogsListInput;
      let caller: Caller;
      let first: Awaited<ReturnType<Caller["logs"]["list"]>>;
      try {
        caller = await callerFor(deps, request, reply);
        first = await caller.logs.list({ ...filters, limit: LOG_EXPORT.pageRows });
      } catch (error) {
        return sendProcedureError(reply, error);
      }
      // Cells that a spreadsheet would run as a formula (a route or model name starting with
      // = + - @) are quoted out: a caller can put any text in a model name.
      const csv = stringify({ header: true, columns: COLUMNS as string[], escape_formulas: true, cast: { boolean: (b) => String(b), date: (d) => d.toISOString() } });
      const rows = Readable.from(rowsFrom(caller, filters, first));
      rows.on("error", (error) => {
        request.log.warn({ err: error }, "request log export ended early");
        csv.destroy(error);
      });
      const day = new Date().toISOString().slice(0, 10);
      return reply
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="switchboard-requests-${day}.csv"`)
        .header("cache-control", "no-store")
        .send(rows.pipe(csv));
    },
  );
}
