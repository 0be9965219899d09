import { TRPCClientError } from "@trpc/client";

/** The `data` of a tRPC error as this API shapes it (see apps/api/src/trpc/errors.ts). */
export interface ApiErrorData {
  code?: string;
  httpStatus?: number;
  appCode?: string;
  retryAfterSec?: number;
  zodError?: { formErrors?: string[]; fieldErrors?: Record<string, string[] | undefined> } | null;
  [key: string]: unknown;
}

export function errorData(error: unknown): ApiErrorData {
  if (error instanceof TRPCClientError && error.data && typeof error.data === "object") {
    return error.data as ApiErrorData;
  }
  return {};
}

export function httpStatusOf(error: unknown): number | undefined {
  return errorData(error).httpStatus;
}

/**
 * A list refused its next page's cursor: the row the cursor names (the last of the page
 * before) has gone since that page was read, deleted or pruned. Reading on from it cannot
 * work; reading the list again from the first page does (components/load-more.tsx).
 */
export function isStaleCursor(error: unknown): boolean {
  const data = errorData(error);
  return data.httpStatus === 404 && data.field === "cursor";
}

/** Seconds the server asked us to wait (429), if it said. */
export function retryAfterOf(error: unknown): number | undefined {
  const value = errorData(error).retryAfterSec;
  return typeof value === "number" && Number.isFinite(value) ? Math.max(1, Math.ceil(value)) : undefined;
}

/** First server message per field, from the flattened zod issues of a 400. */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  const fields = errorData(error).zodError?.fieldErrors ?? {};
  const out: Record<string, string> = {};
  for (const [name, messages] of Object.entries(fields)) {
    if (messages?.[0]) out[name] = messages[0];
  }
  return out;
}

/** A sentence for the user: the server's own message, or what went wrong on the way. */
export function messageOf(error: unknown): string {
  if (error instanceof TRPCClientError) {
    const data = errorData(error);
    if (data.zodError?.formErrors?.[0]) return data.zodError.formErrors[0];
    if (data.httpStatus === undefined) return "Cannot reach the Switchboard API. Check that the server is running.";
    if (data.httpStatus >= 500 && data.appCode !== "EMERGENCY_STOP" && data.code !== "SERVICE_UNAVAILABLE") {
      return "The server hit an error. Try again in a moment.";
    }
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}

/**
 * How a form shows a failed mutation: zod issues next to their fields, anything else as one
 * message above or below the form.
 */
export function submitErrorsOf(mutation: { isError: boolean; error: unknown }): { fields: Record<string, string>; formError: string | null } {
  if (!mutation.isError) return { fields: {}, formError: null };
  const fields = fieldErrorsOf(mutation.error);
  return { fields, formError: Object.keys(fields).length === 0 ? messageOf(mutation.error) : null };
}
