import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** What an incoming x-request-id may look like: printable, no spaces, at most 128 characters. */
const REQUEST_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/**
 * A caller's own x-request-id when it is a sane token, so one id follows a request through
 * the caller's logs and ours; otherwise a fresh one.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers["x-request-id"];
  return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
