/**
 * GET /api/logs/export.csv's limits and the headers that say what it holds. No zod here: the
 * CLI bundles this module and carries no zod.
 */

/** The rows it writes at most (newest first), read this many a page. */
export const LOG_EXPORT = { maxRows: 100_000, pageRows: 100 } as const;

/**
 * What it (and HEAD) says in its headers, before any row: how many rows the file holds, and
 * "true" in `truncated` when more rows match than LOG_EXPORT.maxRows (the file then holds the
 * newest maxRows; narrow from/to for the rest), else "false".
 */
export const LOG_EXPORT_HEADERS = { rows: "x-switchboard-export-rows", truncated: "x-switchboard-export-truncated" } as const;
