/**
 * A start that fails late (here: the gateway's configuration, checked after the session
 * revocations, user directory, API keys, emergency state and heartbeat are running) closes
 * every part it opened. A part left running would go on resyncing against a database and Redis
 * that are closing, and keep the process alive after the error was reported. On the embedded
 * database a resync left running logs its failure; on PostgreSQL + Redis one stays silent, so
 * the cluster run only checks that such a start fails cleanly.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startTestApp } from "../test/app.ts";
import { createTestDatabase } from "../test/database.ts";
import { captureLog } from "../test/log-capture.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../test/redis.ts";

describe.each(["cluster", "embedded"] as const)("a start that fails late (%s)", (mode) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("closes what it opened: nothing it started goes on running against the closed database and Redis", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "switchboard-start-failure-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const prefix = uniquePrefix("start-failure");
    let databaseUrl: string | undefined;
    if (mode === "cluster") {
      const database = await createTestDatabase();
      databaseUrl = database.url;
      cleanups.push(async () => {
        await database.drop();
        await deleteKeysWithPrefix(prefix);
      });
    }
    const log = captureLog();
    const start = startTestApp({
      mode,
      // Refused once the gateway is open: every other part is running by then.
      env: { DATA_DIR: dataDir, LOG_LEVEL: "info", CONSENSUS_AGGREGATOR: "template" },
      logDestination: log.sink,
      // Resyncs every 20 ms: a part left running would try several in the wait below.
      appOptions: { auth: { resyncIntervalMs: 20 }, keys: { resyncIntervalMs: 20 } },
      ...(databaseUrl ? { databaseUrl, redisKeyPrefix: prefix } : {}),
    });
    await expect(start).rejects.toThrow("Invalid configuration: CONSENSUS_AGGREGATOR=template must be an active provider other than the template");
    const atFailure = log.lines.length;

    await sleep(500);
    const after = log.lines.slice(atFailure).filter((l) => Number(l["level"]) >= 40);
    expect(after.map((l) => String(l["msg"]))).toEqual([]);
  });
});
