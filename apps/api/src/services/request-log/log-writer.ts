/**
 * Writes request-log rows in batches, off the request path: `record` only pushes onto an
 * in-memory queue, a timer flushes it with one INSERT per batch about every second. The
 * queue is bounded in rows and in bytes (stored bodies can be 64 kB a row); when the database
 * cannot keep up, new rows are dropped and counted (switchboard_request_log_dropped_total)
 * rather than growing memory or slowing requests. A batch the database could not take
 * because it was unavailable goes back to the head of the queue for the next flush; each row
 * has its id from the moment it is recorded, so a batch that was written although its
 * answer was lost (the connection cut after the commit) is not written twice. A batch is bounded in bytes too: the
 * embedded database's WebAssembly memory grows to its largest statement and never shrinks.
 * A second timer deletes rows older than the retention.
 */
import { randomUUID } from "node:crypto";
import { storableJson } from "@switchboard/schema";
import { Counter, type Registry } from "prom-client";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { isDatabaseUnavailable, isStatementCancelled } from "../../infra/database-errors.ts";
import { MODEL_ANSWERED_SQL } from "./answered-model.ts";
import { OTHER_GROUP } from "./logs-service.ts";

export interface RequestLogRow {
  requestId: string;
  createdAt: Date;
  userId: string | null;
  keyId: string | null;
  method: string;
  route: string;
  model: string | null;
  provider: string | null;
  upstreamModel: string | null;
  attempts: unknown;
  status: number;
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  ip: string | null;
  requestBody: string | null;
  responseBody: string | null;
  tags: readonly string[];
  cacheHit: boolean;
  cacheSavedUsd: number;
}

/**
 * One statement with one parameter per batch: the rows travel as a JSON array that
 * PostgreSQL unpacks itself. Prisma's createMany plans and binds every value of every row
 * on the event loop, which at a few thousand rows a second costs more CPU than the requests
 * being logged; this costs one JSON.stringify. Columns as in schema.prisma (RequestLog).
 */
const INSERT_SQL = `INSERT INTO "RequestLog" ("id","requestId","createdAt","userId","keyId","method","route","model","provider","upstreamModel","attempts","status","errorCode","promptTokens","completionTokens","cachedTokens","costUsd","latencyMs","ttftMs","stream","ip","requestBody","responseBody","tags","cacheHit","cacheSavedUsd")
SELECT "id","requestId","createdAt","userId","keyId","method","route","model","provider","upstreamModel","attempts","status","errorCode","promptTokens","completionTokens","cachedTokens","costUsd","latencyMs","ttftMs","stream","ip","requestBody","responseBody",coalesce("tags", ARRAY[]::text[]),coalesce("cacheHit", false),coalesce("cacheSavedUsd", 0)
FROM jsonb_to_recordset($1::jsonb) AS r("id" text,"requestId" text,"createdAt" timestamp(3),"userId" text,"keyId" text,"method" text,"route" text,"model" text,"provider" text,"upstreamModel" text,"attempts" jsonb,"status" integer,"errorCode" text,"promptTokens" integer,"completionTokens" integer,"cachedTokens" integer,"costUsd" double precision,"latencyMs" integer,"ttftMs" integer,"stream" boolean,"ip" text,"requestBody" text,"responseBody" text,"tags" text[],"cacheHit" boolean,"cacheSavedUsd" double precision)
ON CONFLICT ("id") DO NOTHING`;

/** UTC without a zone, as timestamp(3) columns hold it. */
const utc = (d: Date) => d.toISOString().replace("Z", "");

/**
 * Deletes one batch of rows past retention (the oldest first) and, in the same statement,
 * folds what they cost into PrunedSpend per budget subject (the spend ledger's "key:<id>" /
 * "user:<id>", and "tag:<tag>" for each of a row's tags that has a budget) and UTC day, so budgets and spend figures still count them, and their usage
 * into UsageRollup per day, user, key, model and provider, so usage reports still do. Batches keep each
 * transaction short however much is due (a first start, a shorter retention). Two instances
 * pruning at once cannot count a row twice: each locks its batch, and skips rows the other
 * has locked.
 */
const PRUNE_SQL = `WITH gone AS (
  DELETE FROM "RequestLog" WHERE "id" IN (
    SELECT "id" FROM "RequestLog" WHERE "createdAt" < $1::timestamp(3) ORDER BY "createdAt" LIMIT $2::int FOR UPDATE SKIP LOCKED
  ) RETURNING "userId", "keyId", "model", "provider", "status", "createdAt", "promptTokens", "completionTokens", "costUsd", "tags", "cacheHit", "cacheSavedUsd"
), named AS (
  SELECT "createdAt"::date AS "day", coalesce("userId", '') AS "userId", coalesce("keyId", '') AS "keyId",
    -- The model's name only for a request a model answered or billed (answered-model.ts, as
    -- usage.summary groups kept rows): a refused one may carry any name its caller made up.
    CASE WHEN ${MODEL_ANSWERED_SQL} THEN coalesce("model", '') ELSE '' END AS "model",
    coalesce("provider", '') AS "provider", "promptTokens", "completionTokens", "costUsd", "cacheHit", "cacheSavedUsd"
  FROM gone
), unseen AS (
  -- Names a user's day does not hold yet, numbered after the ones it does, the most used
  -- first: past $3 names a day, the rest count as "(other)" (an upstream that accepts any
  -- name could add a row per request otherwise, kept for good).
  SELECT n."day", n."userId", n."model",
    (SELECT count(DISTINCT u."model") FROM "UsageRollup" u WHERE u."day" = n."day" AND u."userId" = n."userId" AND u."model" <> '')
      + row_number() OVER (PARTITION BY n."day", n."userId" ORDER BY n."uses" DESC, n."model") AS "nth"
  FROM (SELECT "day", "userId", "model", count(*) AS "uses" FROM named WHERE "model" <> '' GROUP BY 1, 2, 3) AS n
  WHERE NOT EXISTS (SELECT 1 FROM "UsageRollup" u WHERE u."day" = n."day" AND u."userId" = n."userId" AND u."model" = n."model")
), rolled AS (
  INSERT INTO "UsageRollup" ("day", "userId", "keyId", "model", "provider", "requests", "promptTokens", "completionTokens", "costUsd", "cacheHits", "cacheSavedUsd")
  SELECT named."day", named."userId", named."keyId", CASE WHEN unseen."nth" > $3::int THEN '${OTHER_GROUP}' ELSE named."model" END, named."provider",
    count(*), sum(named."promptTokens"), sum(named."completionTokens"), sum(named."costUsd"),
    count(*) FILTER (WHERE named."cacheHit"), sum(named."cacheSavedUsd")
  FROM named LEFT JOIN unseen ON unseen."day" = named."day" AND unseen."userId" = named."userId" AND unseen."model" = named."model"
  GROUP BY 1, 2, 3, 4, 5
  -- Rows in key order: two instances pruning at once take their locks in the same order.
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT ("day", "userId", "keyId", "model", "provider") DO UPDATE
    SET "requests" = "UsageRollup"."requests" + EXCLUDED."requests",
      "promptTokens" = "UsageRollup"."promptTokens" + EXCLUDED."promptTokens",
      "completionTokens" = "UsageRollup"."completionTokens" + EXCLUDED."completionTokens",
      "costUsd" = "UsageRollup"."costUsd" + EXCLUDED."costUsd",
      "cacheHits" = "UsageRollup"."cacheHits" + EXCLUDED."cacheHits",
      "cacheSavedUsd" = "UsageRollup"."cacheSavedUsd" + EXCLUDED."cacheSavedUsd"
), spent AS (
  SELECT 'key:' || "keyId" AS subject, "createdAt"::date AS day, "costUsd" FROM gone WHERE "keyId" IS NOT NULL
  UNION ALL
  SELECT 'user:' || "userId", "createdAt"::date, "costUsd" FROM gone WHERE "userId" IS NOT NULL
  UNION ALL
  -- Only tags with a budget: any caller can make tags up, and this is kept for good.
  SELECT 'tag:' || t."tag", gone."createdAt"::date, gone."costUsd"
  FROM gone CROSS JOIN LATERAL unnest(gone."tags") AS t("tag") WHERE t."tag" IN (SELECT "tag" FROM "TagBudget")
), folded AS (
  INSERT INTO "PrunedSpend" ("subject", "day", "costUsd", "requests")
  SELECT subject, day, sum("costUsd"), count(*) FROM spent GROUP BY subject, day ORDER BY subject, day
  ON CONFLICT ("subject", "day") DO UPDATE
    SET "costUsd" = "PrunedSpend"."costUsd" + EXCLUDED."costUsd", "requests" = "PrunedSpend"."requests" + EXCLUDED."requests"
)
SELECT count(*)::int AS pruned FROM gone`;

export interface LogWriterDeps {
  prisma: PrismaClient;
  registry: Registry;
  retentionDays: number;
  log: (msg: string, err?: unknown) => void;
  flushIntervalMs?: number;
  maxQueue?: number;
  maxQueueBytes?: number;
  batchBytes?: number;
  pruneIntervalMs?: number;
  pruneBatch?: number;
  rollupModelsPerDay?: number;
}

const FLUSH_INTERVAL_MS = 1000;
const MAX_QUEUE = 50_000;
const MAX_QUEUE_BYTES = 32 * 1024 * 1024;
/** Rows and bytes per INSERT (one JSON parameter): bounds one statement's size. */
const BATCH = 5000;
const BATCH_BYTES = 1024 * 1024;

/** About what a row takes in the queue and in its batch's JSON: its free-text fields, plus the rest. */
export const rowBytes = (r: RequestLogRow) =>
  512 + (r.requestBody?.length ?? 0) + (r.responseBody?.length ?? 0) + (r.model?.length ?? 0) + (r.upstreamModel?.length ?? 0) + r.route.length;
interface Queued {
  id: string;
  row: RequestLogRow;
  bytes: number;
}
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** Rows one prune statement deletes. */
const PRUNE_BATCH = 5000;
/** Model names the usage rollup keeps per user and day; the rest are folded as "(other)". */
const ROLLUP_MODELS_PER_DAY = 200;

export function createLogWriter(deps: LogWriterDeps) {
  const { prisma } = deps;
  const maxQueue = deps.maxQueue ?? MAX_QUEUE;
  const maxQueueBytes = deps.maxQueueBytes ?? MAX_QUEUE_BYTES;
  const batchBytes = deps.batchBytes ?? BATCH_BYTES;
  /** Rows waiting to be written, each with its id and its size (rowBytes). */
  let queue: Queued[] = [];
  let queuedBytes = 0;
  /** Set while the database is unavailable to the writer: logged once per outage, not per flush. */
  let waitingForDatabase = false;
  /**
   * Rows per batch now: BATCH, halved each time the server cancels a batch (an operator's
   * statement_timeout it exceeds would cancel it on every retry, and every row behind it
   * would wait), back to BATCH after a write.
   */
  let batchRows = BATCH;
  let flushing: Promise<void> | undefined;
  const timers: NodeJS.Timeout[] = [];
  const dropped = new Counter({ name: "switchboard_request_log_dropped_total", help: "Request-log rows dropped: the write queue was full, their write failed, or the database was still unavailable at shutdown.", registers: [deps.registry] });
  const written = new Counter({ name: "switchboard_request_log_written_total", help: "Request-log rows written to the database, each once (also when a retried batch had been stored by an attempt whose answer was lost).", registers: [deps.registry] });

  /** The rows at the head of the queue that make the next batch (at least one), and their bytes. */
  function nextBatch(): { rows: number; bytes: number } {
    let rows = 0;
    let bytes = 0;
    for (const entry of queue) {
      if (rows === batchRows || (rows > 0 && bytes + entry.bytes > batchBytes)) break;
      rows++;
      bytes += entry.bytes;
    }
    return { rows, bytes };
  }

  /** Puts a batch back at the head of the queue; what no longer fits its bounds, the newest, is dropped. */
  function requeue(batch: Queued[], bytes: number): void {
    queue = batch.concat(queue);
    queuedBytes += bytes;
    while (queue.length > maxQueue || queuedBytes > maxQueueBytes) {
      queuedBytes -= queue.pop()!.bytes;
      dropped.inc();
    }
  }

  async function writeAll(): Promise<void> {
    while (queue.length > 0) {
      const { rows, bytes } = nextBatch();
      const batch = queue.slice(0, rows);
      queue = queue.slice(rows);
      queuedBytes -= bytes;
      try {
        // One NUL or half surrogate pair in any row (a model name, a stored body) would make
        // PostgreSQL refuse the whole document, and with it every other row of the batch.
        const json = storableJson(JSON.stringify(batch.map(({ id, row }) => ({ ...row, id, createdAt: utc(row.createdAt) }))));
        await prisma.$executeRawUnsafe(INSERT_SQL, json);
        // Every row of the batch is stored now, by this statement or (ids it skipped) by an
        // earlier attempt whose answer was lost and which was therefore never counted.
        written.inc(batch.length);
        if (waitingForDatabase) deps.log(`request log writes resumed; ${queue.length} rows still queued`);
        waitingForDatabase = false;
        batchRows = BATCH;
      } catch (err) {
        if (isStatementCancelled(err) && batch.length > 1) {
          // Too large for the operator's statement_timeout, perhaps: smaller batches may get
          // in. One row cancelled again waits like an unavailable database (a lock held long).
          batchRows = Math.ceil(batch.length / 2);
          deps.log(`request log batch of ${batch.length} rows cancelled by the database; retrying in batches of ${batchRows}`, err);
        }
        if (isDatabaseUnavailable(err)) {
          // The same rows may go in a moment from now; the next flush tries again.
          if (!waitingForDatabase) deps.log("request log write failed: the database is unavailable; rows kept to retry", err);
          waitingForDatabase = true;
          requeue(batch, bytes);
          return;
        }
        dropped.inc(batch.length);
        deps.log("request log write failed; rows dropped", err);
      }
    }
  }

  function flush(): Promise<void> {
    flushing ??= writeAll().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  let closed = false;
  let pruning: Promise<number> | undefined;

  /** Deletes every row past retention, a batch at a time; resolves with how many. */
  async function pruneAll(): Promise<number> {
    const before = utc(new Date(Date.now() - deps.retentionDays * 86_400_000));
    const batch = Math.max(1, deps.pruneBatch ?? PRUNE_BATCH);
    const modelsPerDay = deps.rollupModelsPerDay ?? ROLLUP_MODELS_PER_DAY;
    let total = 0;
    while (!closed) {
      const [{ pruned }] = await prisma.$queryRawUnsafe<[{ pruned: number }]>(PRUNE_SQL, before, batch, modelsPerDay);
      total += pruned;
      if (pruned < batch) break;
      // Requests (and, embedded, the database on this thread) get their turn between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return total;
  }

  /** One prune at a time per instance: a slow one is joined, not doubled, by the next tick. */
  function prune(): Promise<number> {
    pruning ??= pruneAll().finally(() => {
      pruning = undefined;
    });
    return pruning;
  }

  return {
    record(row: RequestLogRow): void {
      const bytes = rowBytes(row);
      if (queue.length >= maxQueue || queuedBytes + bytes > maxQueueBytes) {
        dropped.inc();
        return;
      }
      queue.push({ id: randomUUID(), row, bytes });
      queuedBytes += bytes;
    },
    flush,
    prune,
    pending: () => queue.length,
    start(): void {
      const every = (ms: number, fn: () => Promise<unknown>, what: string) => {
        const t = setInterval(() => void fn().catch((err: unknown) => deps.log(`${what} failed`, err)), ms);
        t.unref();
        timers.push(t);
      };
      every(deps.flushIntervalMs ?? FLUSH_INTERVAL_MS, flush, "request log flush");
      every(deps.pruneIntervalMs ?? PRUNE_INTERVAL_MS, prune, "request log prune");
      void prune().catch((err: unknown) => deps.log("request log prune failed", err));
    },
    async close(): Promise<void> {
      closed = true;
      for (const t of timers) clearInterval(t);
      // A batch in flight finishes before the database closes under it; no further one starts.
      await pruning?.catch(() => {});
      await flush();
      // Kept for a retry that will not come now.
      if (queue.length > 0) {
        dropped.inc(queue.length);
        deps.log(`request log: ${queue.length} rows not written before shutdown (the database unavailable); dropped`);
        queue = [];
        queuedBytes = 0;
      }
    },
  };
}

export type LogWriter = ReturnType<typeof createLogWriter>;
