/**
 * What the budget ledger prices a request in flight at, on PostgreSQL and PGlite: the
 * costliest request of the last day as the request log has it at start (each counted until
 * a day after its own hour) and as served since.
 */
import { randomUUID } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase, type DatabaseFlavour } from "../../../test/database.ts";
import { requestLogRow } from "../../../test/request-log-row.ts";
import { createMemoryCoordination } from "../../infra/coordination/index.ts";
import type { Database } from "../../infra/database.ts";
import { createLogWriter } from "../request-log/log-writer.ts";
import { createLoggedSpend } from "./logged-spend.ts";
import { createSpendLedger, type SpendLedger, type SpendSubject } from "./spend-ledger.ts";

const HOUR = 3600_000;

describe.each<DatabaseFlavour>(["PostgreSQL", "PGlite"])("the budget ledger's price in flight on %s", (flavour) => {
  let db: Database;

  beforeAll(async () => {
    db = await openTestDatabase(flavour);
  }, 120_000);

  afterAll(async () => {
    await db?.close();
  });

  async function startLedger(): Promise<SpendLedger> {
    const logged = createLoggedSpend(db.prisma);
    const ledger = createSpendLedger({ coordination: createMemoryCoordination(), loggedSpend: logged.of, costliestLogged: logged.costliestByHour, log: () => {} });
    await ledger.start();
    return ledger;
  }

  /** Admits requests one after another (none ends) until one is refused, or 100: how many ran side by side. */
  async function admittedAtOnce(ledger: SpendLedger, subject: SpendSubject, budgetUsd: number): Promise<number> {
    let admitted = 0;
    while (admitted < 100 && (await ledger.admit(subject, "day", budgetUsd)).admitted) admitted++;
    return admitted;
  }

  it("prices at the costliest request served since it started", async () => {
    const ledger = await startLedger();
    try {
      const subject: SpendSubject = `key:${randomUUID()}`;
      const first = await ledger.admit(subject, "day", 10);
      expect(first.admitted).toBe(true);
      ledger.notePrice(1);
      if (first.admitted) first.hold.release(1);
      // Spent 1 of 10, each priced at 1: nine fit side by side (1 + 9 ≤ 10).
      expect(await admittedAtOnce(ledger, subject, 10)).toBe(9);
    } finally {
      await ledger.close();
    }
  });

  it("after a quiet day, prices at the costliest request of the latest hour the log has", async () => {
    // Before the next test: the log holds nothing of the last day yet.
    const writer = createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 30, log: () => {} });
    writer.record(requestLogRow({ createdAt: new Date(Date.now() - 50 * HOUR), userId: randomUUID(), costUsd: 9 }));
    writer.record(requestLogRow({ createdAt: new Date(Date.now() - 30 * HOUR), userId: randomUUID(), costUsd: 4 }));
    await writer.flush();
    const ledger = await startLedger();
    try {
      // Each priced at 4 (the later figure, not the costlier older one): two fit in 10.
      expect(await admittedAtOnce(ledger, `user:${randomUUID()}`, 10)).toBe(2);
    } finally {
      await ledger.close();
    }
  });

  it("prices at the costliest request the log has of the last day, not one older", async () => {
    const writer = createLogWriter({ prisma: db.prisma, registry: new Registry(), retentionDays: 30, log: () => {} });
    // Another caller's requests: one of 5 a day and an hour ago, one of 2 two hours ago.
    writer.record(requestLogRow({ createdAt: new Date(Date.now() - 25 * HOUR), userId: randomUUID(), costUsd: 5 }));
    writer.record(requestLogRow({ createdAt: new Date(Date.now() - 2 * HOUR), userId: randomUUID(), costUsd: 2 }));
    await writer.flush();
    const ledger = await startLedger();
    try {
      // Nothing spent, each priced at 2: five fit in 10 (at 5 it would be two; unread, a hundred).
      expect(await admittedAtOnce(ledger, `user:${randomUUID()}`, 10)).toBe(5);
    } finally {
      await ledger.close();
    }
  });
});
