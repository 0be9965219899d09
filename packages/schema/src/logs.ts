import { z } from "zod";
import { ZId, ZPageInput } from "./common.ts";

/** PostgreSQL has no year 0: `0000-…`, or `0001-01-01T00:00:00+01:00` (still year 0 in UTC), cannot be compared with. */
const ZDateFilter = z.iso.datetime({ offset: true }).refine((s) => new Date(s).getUTCFullYear() >= 1, "Dates before the year 1 are not supported");

/**
 * Labels a caller puts on a request (`x-switchboard-tags: team:search, feature=summary`), kept
 * in its request-log row to find it and its spend by: at most `max` a request, each of
 * `maxChars` at most, of letters, digits and `_ . : / @ = + -`.
 */
export const REQUEST_TAGS = { header: "x-switchboard-tags", max: 10, maxChars: 64, pattern: /^[A-Za-z0-9_.:/@=+-]+$/ } as const;
export const ZRequestTag = z
  .string()
  .trim()
  .min(1)
  .max(REQUEST_TAGS.maxChars)
  .regex(REQUEST_TAGS.pattern, "A tag holds letters, digits and _ . : / @ = + - only");

export const ZLogsListInput = ZPageInput.extend({
  from: ZDateFilter.optional(),
  to: ZDateFilter.optional(),
  userId: ZId.optional(),
  keyId: ZId.optional(),
  provider: z.string().trim().min(1).max(100).optional(),
  model: z.string().trim().min(1).max(200).optional(),
  /** An HTTP status (e.g. 429), or a class: "2xx", "4xx", "5xx", "error" (any >= 400). */
  status: z.union([z.number().int().min(100).max(599), z.enum(["2xx", "3xx", "4xx", "5xx", "error"])]).optional(),
  /** Free text: matched against request id, route, model, provider and error code. */
  q: z.string().trim().min(1).max(200).optional(),
  /** Only requests the caller tagged with this (exactly). */
  tag: ZRequestTag.optional(),
  /** Only requests answered from the response cache (true), or only those that were not (false). */
  cacheHit: z.boolean().optional(),
}).optional();
export type TLogsListInput = z.infer<typeof ZLogsListInput>;

export const ZRequestLog = z.object({
  id: z.string(),
  requestId: z.string(),
  createdAt: z.string(),
  userId: z.string().nullable(),
  keyId: z.string().nullable(),
  route: z.string(),
  model: z.string().nullable(),
  provider: z.string().nullable(),
  upstreamModel: z.string().nullable(),
  status: z.number(),
  errorCode: z.string().nullable(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  cachedTokens: z.number(),
  costUsd: z.number(),
  latencyMs: z.number(),
  ttftMs: z.number().nullable(),
  stream: z.boolean(),
  tags: z.array(z.string()),
  /** Answered from the response cache: no provider was called. */
  cacheHit: z.boolean(),
  /**
   * What that hit saved: its answer's usage at the prices its call would have been billed at
   * (0 for every other request, and for a hit that was not delivered).
   */
  cacheSavedUsd: z.number(),
});
export type TRequestLog = z.infer<typeof ZRequestLog>;

export const ZLogAttempt = z.object({
  provider: z.string(),
  model: z.string().nullable(),
  outcome: z.string(),
  latencyMs: z.number(),
  /** Milliseconds after the request arrived that the call started. */
  startMs: z.number(),
  ttftMs: z.number().nullable(),
  promptTokens: z.number().nullable(),
  completionTokens: z.number().nullable(),
});
export type TLogAttempt = z.infer<typeof ZLogAttempt>;

export const ZRequestLogDetail = ZRequestLog.extend({
  ip: z.string().nullable(),
  method: z.string(),
  attempts: z.array(ZLogAttempt),
  requestBody: z.string().nullable(),
  responseBody: z.string().nullable(),
});
export type TRequestLogDetail = z.infer<typeof ZRequestLogDetail>;

export const ZLogIdInput = z.object({ id: z.string().min(1).max(100) });

/**
 * How usage.summary groups. By `tag`, a request counts in each of its tags' groups (untagged
 * ones in "(none)"): the groups overlap, and reach back as far as the request log keeps rows.
 */
export const GROUP_BYS = ["user", "key", "model", "provider", "day", "tag"] as const;
export const ZUsageSummaryInput = z.object({
  from: ZDateFilter.optional(),
  to: ZDateFilter.optional(),
  groupBy: z.enum(GROUP_BYS),
  /** Only one API key's requests (e.g. a key's usage sparkline). */
  keyId: ZId.optional(),
  /**
   * Only requests tagged with this. Tags live in the request log, not in the daily rollup of
   * rows pruned past its retention: a tag's usage reaches back REQUEST_LOG_RETENTION_DAYS.
   */
  tag: ZRequestTag.optional(),
});
export type TUsageSummaryInput = z.infer<typeof ZUsageSummaryInput>;

export const ZUsageGroup = z.object({
  key: z.string(),
  /** A readable name for the key (a user's email, an API key's name), when there is one. */
  label: z.string().nullable(),
  requests: z.number(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  costUsd: z.number(),
  /** Requests answered from the response cache, and what they saved (see ZRequestLog). */
  cacheHits: z.number(),
  cacheSavedUsd: z.number(),
});
export const ZUsageSummary = z.object({
  total: ZUsageGroup.omit({ key: true, label: true }),
  groups: z.array(ZUsageGroup),
});
export type TUsageSummary = z.infer<typeof ZUsageSummary>;
