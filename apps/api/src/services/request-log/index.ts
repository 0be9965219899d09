import { LOG_EXPORT } from "@switchboard/schema";
import type { Registry } from "prom-client";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { createLogWriter } from "./log-writer.ts";
import { createLogsService } from "./logs-service.ts";
import { createRequestRecorder, type PriceLookup, type RequestRecorderDeps } from "./request-recorder.ts";

export { MAX_BODY_CHARS, type FinishedRequest } from "./request-recorder.ts";
export { StreamBody } from "./stream-body.ts";
export { loggedBodyText } from "./logged-body.ts";
export type { PriceLookup } from "./request-recorder.ts";
export type { LogFilters } from "./logs-service.ts";

export interface RequestLogDeps {
  prisma: PrismaClient;
  registry: Registry;
  retentionDays: number;
  storeBodies: boolean;
  prices: PriceLookup;
  log: (msg: string, err?: unknown) => void;
  /** Told once per provider and model of a budgeted call no price covers (request-recorder.ts). */
  onUnpriced?: RequestRecorderDeps["onUnpriced"];
  /** Told what each request that called a provider cost (request-recorder.ts). */
  onPriced?: RequestRecorderDeps["onPriced"];
  /** Told what each priced call cost, by provider (request-recorder.ts). */
  onSpent?: RequestRecorderDeps["onSpent"];
  flushIntervalMs?: number;
  /** The most rows one export of the log writes (default LOG_EXPORT.maxRows; tests cut exports with less). */
  exportMaxRows?: number;
}

/** The request log: the batch writer, the recorder the HTTP layer feeds, and the readers. */
export function createRequestLog(deps: RequestLogDeps) {
  const writer = createLogWriter({
    prisma: deps.prisma,
    registry: deps.registry,
    retentionDays: deps.retentionDays,
    log: deps.log,
    ...(deps.flushIntervalMs !== undefined ? { flushIntervalMs: deps.flushIntervalMs } : {}),
  });
  const record = createRequestRecorder({
    writer,
    prices: deps.prices,
    storeBodies: deps.storeBodies,
    ...(deps.onUnpriced ? { onUnpriced: deps.onUnpriced } : {}),
    ...(deps.onPriced ? { onPriced: deps.onPriced } : {}),
    ...(deps.onSpent ? { onSpent: deps.onSpent } : {}),
  });
  const reader = createLogsService({ prisma: deps.prisma });
  return {
    ...reader,
    record,
    storeBodies: deps.storeBodies,
    exportMaxRows: deps.exportMaxRows ?? LOG_EXPORT.maxRows,
    flush: writer.flush,
    prune: writer.prune,
    pending: writer.pending,
    start: writer.start,
    close: writer.close,
  };
}

export type RequestLogService = ReturnType<typeof createRequestLog>;
