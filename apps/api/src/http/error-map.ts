/**
 * The one error table. Services throw `AppError(code)`; everything else a request can fail
 * with (Fastify's body parser, a zod refusal, a bug) is first turned into the same
 * description here. Each dialect is a thin renderer of `describeError`:
 *   - tRPC        trpc/errors.ts        (`trpc` column → TRPCError code; data.appCode)
 *   - REST        http/errors.ts        ({error:{code, message, ...details}})
 *   - OpenAI      http/openai/errors.ts ({error:{message, type, param, code}})
 *   - Anthropic   http/anthropic/errors.ts ({type:"error", error:{type, message}})
 *   - WebSocket and other transports: call `describeError` and send `code` + `message`.
 * Adding an AppError code means adding one row below; the compiler points at nothing else.
 */
import type { FastifyError, FastifyRequest } from "fastify";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { APP_ERROR_CODES, type TAppErrorCode } from "@switchboard/schema";
import { ZodError } from "zod";
import { isDatabaseUnavailable, unavailableLogLine } from "../infra/database-errors.ts";
import { AppError, databaseUnavailable } from "../services/errors.ts";
import { rateLimitHeaders, rateLimitOfDetails } from "./rate-limit-headers.ts";

export interface ErrorRow {
  status: number;
  /** The tRPC code a procedure answers with. */
  trpc: TRPC_ERROR_CODE_KEY;
  /** OpenAI's `error.type`, which the official SDKs map to their exception classes. */
  openaiType: string;
}

export const ERROR_TABLE: Record<TAppErrorCode, ErrorRow> = {
  BAD_REQUEST: { status: 400, trpc: "BAD_REQUEST", openaiType: "invalid_request_error" },
  UNAUTHORIZED: { status: 401, trpc: "UNAUTHORIZED", openaiType: "invalid_request_error" },
  FORBIDDEN: { status: 403, trpc: "FORBIDDEN", openaiType: "permission_error" },
  NOT_FOUND: { status: 404, trpc: "NOT_FOUND", openaiType: "invalid_request_error" },
  METHOD_NOT_ALLOWED: { status: 405, trpc: "METHOD_NOT_SUPPORTED", openaiType: "invalid_request_error" },
  CONFLICT: { status: 409, trpc: "CONFLICT", openaiType: "invalid_request_error" },
  PAYLOAD_TOO_LARGE: { status: 413, trpc: "PAYLOAD_TOO_LARGE", openaiType: "invalid_request_error" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, trpc: "UNSUPPORTED_MEDIA_TYPE", openaiType: "invalid_request_error" },
  UNPROCESSABLE: { status: 422, trpc: "UNPROCESSABLE_CONTENT", openaiType: "invalid_request_error" },
  TOO_MANY_REQUESTS: { status: 429, trpc: "TOO_MANY_REQUESTS", openaiType: "rate_limit_error" },
  EMERGENCY_STOP: { status: 503, trpc: "SERVICE_UNAVAILABLE", openaiType: "api_error" },
  SERVICE_UNAVAILABLE: { status: 503, trpc: "SERVICE_UNAVAILABLE", openaiType: "api_error" },
  UPSTREAM_ERROR: { status: 502, trpc: "BAD_GATEWAY", openaiType: "api_error" },
  INTERNAL: { status: 500, trpc: "INTERNAL_SERVER_ERROR", openaiType: "api_error" },
};

export interface ErrorDescription {
  status: number;
  code: TAppErrorCode;
  /** Safe to show the client: an internal fault's own message never leaves the server. */
  message: string;
  /** Seconds to wait before retrying (429, some 503s). */
  retryAfterSec: number | undefined;
  /** False when retrying cannot help soon (a frozen fleet): clients should fail at once. */
  shouldRetry: boolean | undefined;
  /** The offending input field as a dotted path (`messages.1.content`), when known. */
  param: string | null;
  /** Extra fields for clients (AppError.details; never secrets). */
  details: Record<string, unknown>;
  /** Set when the error is a genuine server fault that belongs in the error log. */
  internal: boolean;
}

const FASTIFY_CODE_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "Malformed JSON body",
  FST_ERR_CTP_EMPTY_JSON_BODY: "Empty JSON body",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "Unsupported content type; send application/json",
  // Fastify's own messages repeat the whole path, up to the parameter limit.
  FST_ERR_BAD_URL: "Malformed URL: a percent-escape in the path is not valid UTF-8",
  FST_ERR_MAX_PARAM_LENGTH: "URL too long: a path parameter is over the length limit",
};

const CODE_BY_STATUS = new Map<number, TAppErrorCode>();
for (const code of APP_ERROR_CODES) {
  const { status } = ERROR_TABLE[code];
  // EMERGENCY_STOP shares 503 with SERVICE_UNAVAILABLE; the generic one wins by default.
  if (!CODE_BY_STATUS.has(status) && code !== "EMERGENCY_STOP") CODE_BY_STATUS.set(status, code);
}

/**
 * The app code for a bare HTTP status (a Fastify error, or a response where nothing more
 * precise was noted). A closed set, so it can be a metric label.
 */
export function errorCodeOf(status: number): TAppErrorCode {
  return CODE_BY_STATUS.get(status) ?? (status >= 500 ? "INTERNAL" : "BAD_REQUEST");
}

/** `messages.1.content` from zod's path. */
export function paramOf(path: ReadonlyArray<PropertyKey>): string | null {
  return path.length === 0 ? null : path.map(String).join(".");
}

/**
 * A zod refusal in one line a person can read: the first issue with the field it names
 * (`subject` when it names the whole input), and how many more there are. Every dialect
 * says it this way; the structured issues travel separately where a dialect has room.
 */
export function zodSummary(error: ZodError, subject = "body"): string {
  const [issue, ...rest] = error.issues;
  if (!issue) return "Invalid input";
  const first = telling(issue);
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : "";
  return `${paramOf(first.path) ?? subject}: ${first.message}${more}`;
}

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/**
 * A union's refusal, "Invalid input", said by the one alternative the value was of the type
 * of: content sent as blocks is told what is wrong with a block (and a schema's own words,
 * "documents are not available…"), not that it is not a string either. A value of none of
 * the alternatives' types keeps the union's refusal.
 */
function telling(issue: Issue): Issue {
  if (issue.code !== "invalid_union" || !issue.errors) return issue;
  const notOfItsType = (branch: Issue[]) => branch.length === 1 && branch[0]!.code === "invalid_type" && branch[0]!.path.length === 0;
  const [branch, ...others] = issue.errors.filter((b) => b.length > 0 && !notOfItsType(b));
  if (!branch || others.length > 0) return issue;
  const inner = telling(branch[0]!);
  return { ...inner, path: [...issue.path, ...inner.path] };
}

/** A zod refusal as a BAD_REQUEST AppError naming the first offending field. */
export function appErrorOfZod(error: ZodError): AppError {
  const issue = error.issues[0];
  const param = issue ? paramOf(telling(issue).path) : null;
  return new AppError("BAD_REQUEST", zodSummary(error), { details: { param, issues: error.issues.length }, cause: error });
}

export function describeError(error: unknown): ErrorDescription {
  if (error instanceof ZodError) return describeError(appErrorOfZod(error));
  // Logged with its cause like a fault (internal), answered as the passing state it is.
  if (isDatabaseUnavailable(error)) return { ...describeError(databaseUnavailable(error)), internal: true };
  if (error instanceof AppError) {
    const { param, shouldRetry, ...details } = error.details;
    return {
      status: ERROR_TABLE[error.code].status,
      code: error.code,
      message: error.message,
      retryAfterSec: error.retryAfterSec,
      // A freeze lasts until a person lifts it: retrying on Retry-After would only stall clients.
      shouldRetry: typeof shouldRetry === "boolean" ? shouldRetry : error.code === "EMERGENCY_STOP" ? false : undefined,
      // `field` is what some refusals (NUL in a body) call the offending input.
      param: typeof param === "string" ? param : typeof details["field"] === "string" ? details["field"] : null,
      details,
      internal: error.code === "INTERNAL",
    };
  }
  // tRPC's adapter refuses some requests itself before any procedure runs (e.g. "Invalid
  // URL" for an empty Host header), and those reach the server's error handler as they are.
  const status = error instanceof TRPCError ? getHTTPStatusCodeFromError(error) : (error as FastifyError | undefined)?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const fastifyCode = (error as FastifyError).code;
    return {
      status,
      code: errorCodeOf(status),
      message: (fastifyCode && FASTIFY_CODE_MESSAGES[fastifyCode]) ?? (error as Error).message,
      retryAfterSec: undefined,
      shouldRetry: undefined,
      param: null,
      details: {},
      internal: false,
    };
  }
  return {
    status: 500,
    code: "INTERNAL",
    message: "Internal error",
    retryAfterSec: undefined,
    shouldRetry: undefined,
    param: null,
    details: {},
    internal: true,
  };
}

/** Response headers every dialect sends with an error: Retry-After and x-should-retry. */
export function errorHeaders(described: ErrorDescription): Record<string, string> {
  const headers: Record<string, string> = {};
  if (described.retryAfterSec !== undefined) headers["retry-after"] = String(described.retryAfterSec);
  if (described.shouldRetry !== undefined) headers["x-should-retry"] = String(described.shouldRetry);
  // A refusal by a rate limit says where that limit stands, as its successes do.
  const limit = rateLimitOfDetails(described.details);
  return limit ? { ...headers, ...rateLimitHeaders(limit) } : headers;
}

/**
 * The one log line of a route's failure on the server's side (a refusal is none), whatever
 * its dialect: `what` failed, and for a statement the server cancelled, the bound it ran past.
 */
export function logRouteFailure(request: Pick<FastifyRequest, "log">, described: ErrorDescription, error: unknown, what: string): void {
  if (described.internal) request.log.error({ err: error }, unavailableLogLine(error, what));
}
