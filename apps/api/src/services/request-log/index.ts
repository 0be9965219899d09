import type { Registry } from "prom-client";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { createLogWriter } from "./log-writer.ts";
import { createLogsService } from "./logs-service.ts";
import type { PriceLookup } from "./pricing.ts";
import { createRequestRecorder } from "./request-recorder.ts";

export { MAX_BODY_CHARS, type FinishedRequest } from "./request-recorder.ts";
export { StreamBody } from "./stream-body.ts";
export type { ModelPrices, PriceLookup } from "./pricing.ts";

export interface RequestLogDeps {
  prisma: PrismaClient;
  registry: Registry;
  retentionDays: number;
  storeBodies: boolean;
  prices: PriceLookup;
  log: (msg: string, err?: unknown) => void;
  flushIntervalMs?: number;
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
    onUnpriced: ({ provider, model }) =>
      deps.log(
        `calls to provider "${provider}", model "${model}" have no price: they are logged at cost 0 and no budget counts them; ` +
          "price a route that sends it (models.upsert inputPricePerMTok/outputPricePerMTok) or the auto route (the default price)",
      ),
  });
  const reader = createLogsService({ prisma: deps.prisma });
  return {
    ...reader,
    record,
    storeBodies: deps.storeBodies,
    flush: writer.flush,
    prune: writer.prune,
    pending: writer.pending,
    start: writer.start,
    close: writer.close,
  };
}

export type RequestLogService = ReturnType<typeof createRequestLog>;
