/** A request-log row as the recorder hands it to the writer: a plain 200 unless told otherwise. */
import { randomUUID } from "node:crypto";
import type { RequestLogRow } from "../src/services/request-log/log-writer.ts";

export const requestLogRow = (fields: Partial<RequestLogRow> = {}): RequestLogRow => ({
  requestId: randomUUID(),
  createdAt: new Date(),
  userId: null,
  keyId: null,
  method: "POST",
  route: "/v1/chat/completions",
  model: "auto",
  provider: "template",
  upstreamModel: null,
  attempts: [],
  status: 200,
  errorCode: null,
  promptTokens: 1,
  completionTokens: 1,
  cachedTokens: 0,
  costUsd: 0,
  latencyMs: 1,
  ttftMs: null,
  stream: false,
  ip: null,
  requestBody: null,
  responseBody: null,
  tags: [],
  cacheHit: false,
  cacheSavedUsd: 0,
  ...fields,
});
