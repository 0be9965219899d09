import { APP_ERROR_CODES, type TAppErrorCode } from "@switchboard/schema";
import { HTTP_STATUS_BY_APP_CODE } from "../services/errors.ts";

/**
 * The error code of a failed response when nothing more precise was noted on the request
 * (procedures and the REST error helpers note the AppError's own code). A closed set, so it
 * can be a metric label.
 */
const CODE_BY_STATUS = new Map<number, TAppErrorCode>();
for (const code of APP_ERROR_CODES) {
  const status = HTTP_STATUS_BY_APP_CODE[code];
  // EMERGENCY_STOP shares 503 with SERVICE_UNAVAILABLE; the generic one wins by default.
  if (!CODE_BY_STATUS.has(status) && code !== "EMERGENCY_STOP") CODE_BY_STATUS.set(status, code);
}

export function errorCodeOf(status: number): string {
  return CODE_BY_STATUS.get(status) ?? (status >= 500 ? "INTERNAL" : "BAD_REQUEST");
}
