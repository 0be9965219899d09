/**
 * The batch writer's memory bounds, on a real PostgreSQL: rows past the queue's byte bound
 * are dropped and counted instead of held, and batches cut by size lose no row.
 */
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openTestDatabase } from "../../../test/database.ts";
import type { Database } from "../../infra/database.ts";
import { requestLogRow } from "../../../test/request-log-row.ts";
import { createLogWriter, rowBytes } from "./log-writer.ts";

let db: Database;

beforeAll(async () => {
  db = await openTestDatabase("PostgreSQL");
}, 120_000);

afterAll(async () => {
  await db?.close();
});

const row = (requestId: string, body: string) => requestLogRow({ requestId, ip: "127.0.0.1", requestBody: body, responseBody: body });

async function counter(registry: Registry, name: string): Promise<number> {
  return (await registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
}

const stored = (prefix: string) => db.prisma.requestLog.count({ where: { requestId: { startsWith: prefix } } });

it("writes every row when batches are cut by size", async () => {
  const registry = new Registry();
  const body = "b".repeat(1000);
  const writer = createLogWriter({ prisma: db.prisma, registry, retentionDays: 30, log: () => {}, batchBytes: 3 * rowBytes(row("x", body)) });
  for (let i = 0; i < 20; i++) writer.record(row(`sized-${i}`, body));
  await writer.flush();
  expect(await stored("sized-")).toBe(20);
  expect(await counter(registry, "switchboard_request_log_written_total")).toBe(20);
  expect(writer.pending()).toBe(0);
});

it("drops and counts rows past the queue's byte bound instead of holding them", async () => {
  const registry = new Registry();
  const body = "b".repeat(4000);
  const size = rowBytes(row("x", body));
  const writer = createLogWriter({ prisma: db.prisma, registry, retentionDays: 30, log: () => {}, maxQueueBytes: 5 * size });
  for (let i = 0; i < 12; i++) writer.record(row(`bounded-${i}`, body));
  expect(writer.pending()).toBe(5);
  expect(await counter(registry, "switchboard_request_log_dropped_total")).toBe(7);
  await writer.flush();
  expect(await stored("bounded-")).toBe(5);
  // Room again once written.
  writer.record(row("bounded-after", body));
  expect(writer.pending()).toBe(1);
  await writer.close();
  expect(await stored("bounded-after")).toBe(1);
});
