/**
 * PostgreSQL going away under a running cluster instance, through a TCP link the test breaks:
 * what needs the database answers 503 with Retry-After on every transport (never a 500, never
 * a request held without end), what does not — a signed-in /v1 chat — goes on, and the
 * instance serves everything again once the database is back, without a restart. Also: the
 * request log's batches kept through an outage and written once, and statements the server
 * cancels (an operator's statement_timeout or lock_timeout) answered as the database busy.
 */
import { once } from "node:events";
import pg from "pg";
import { WebSocket } from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { createTestDatabase, openTestDatabase } from "../../test/database.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startTcpLink, type TcpLink } from "../../test/tcp-link.ts";
import { openTrpcSocket } from "../../test/trpc-socket.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";
import { Registry } from "prom-client";
import { requestLogRow } from "../../test/request-log-row.ts";
import { createLogWriter } from "../services/request-log/log-writer.ts";
import { captureLog } from "../../test/log-capture.ts";
import { isDatabaseUnavailable, isStatementCancelled } from "./database-errors.ts";
import { openDatabase, type Database } from "./database.ts";
import { boundLockWaits, LOCK_WAIT_MS, LONG_STATEMENT_MS, runLongStatement } from "./statement-bounds.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let link: TcpLink;
let upstreams: Upstreams<"openai">;
let t: TestApp;
let token: string;

/** Runs one statement on a connection of its own (not the app's pool, not through a link). */
async function adminQuery<T extends object>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    return (await admin.query(sql, params)).rows as T[];
  } finally {
    await admin.end();
  }
}

/** Runs `work` while another session holds `table` in `mode`, in a transaction rolled back after. */
const whileTableLocked = <T>(url: string, table: string, mode: string, work: () => Promise<T>): Promise<T> =>
  whileSessionHolds(url, `LOCK TABLE "${table}" IN ${mode} MODE`, work);

/** Runs `work` while another session's open transaction holds the locks `sql` took; rolled back after. */
async function whileSessionHolds<T>(url: string, sql: string, work: () => Promise<T>): Promise<T> {
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  try {
    await holder.query(`BEGIN; ${sql}`);
    return await work();
  } finally {
    await holder.query("ROLLBACK").catch(() => {});
    await holder.end();
  }
}

/** The test database's URL, reached through the link. */
function throughLink(url: string): string {
  const target = new URL(url);
  target.hostname = "127.0.0.1";
  target.port = String(link.port);
  return target.toString();
}

beforeAll(async () => {
  database = await createTestDatabase();
  const target = new URL(database.url);
  link = await startTcpLink({ host: target.hostname, port: Number(target.port || 5432) });
  upstreams = await startUpstreams(["openai"]);
  t = await startTestApp({ databaseUrl: throughLink(database.url), env: upstreams.env });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await link?.close();
  await upstreams?.close();
  await database?.drop();
});

// A failed test must not leave the next one without a database.
afterEach(() => link.set("up"));

/**
 * Resolves once a statement whose text holds `marker` is running on the server, so a test
 * can break it mid-way (fails after 10 s rather than polling without end).
 */
async function untilRunning(marker: string): Promise<void> {
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  try {
    for (const until = Date.now() + 10_000; Date.now() < until; ) {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()", [`%${marker}%`]);
      if (rowCount) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no statement marked ${marker} started within 10 s`);
  } finally {
    await admin.end();
  }
}

const listKeys = () => trpcQuery(t.url, "keys.list", undefined, bearer(token));
const v1Chat = () =>
  fetch(`${t.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...bearer(token) },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "still there?" }] }),
  });

function expectUnavailable(res: { status: number; headers: Headers }) {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
}

/** Polls until `probe` answers `status` (or the deadline passes); returns the last status. */
async function eventually(probe: () => Promise<{ status: number }>, status: number, deadlineMs = 15_000): Promise<number> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const { status: seen } = await probe();
    if (seen === status || Date.now() > until) return seen;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("a database that went away", () => {
  it("answers 503 with Retry-After on tRPC, REST and sign-in while a /v1 chat still answers", async () => {
    expect((await listKeys()).status).toBe(200);
    const stranger = await t.userWithRole("USER");
    link.set("down");

    // A caller this instance has not checked yet cannot be now: told to retry, not signed out.
    const unknown = await trpcQuery(t.url, "auth.me", undefined, bearer(stranger.token));
    expectUnavailable(unknown);
    const unknownOnV1 = await fetch(`${t.url}/v1/models`, { headers: bearer(stranger.token) });
    expectUnavailable(unknownOnV1);
    // A subscription over HTTP checks its caller before taking a stream slot.
    const input = encodeURIComponent(JSON.stringify({ message: "hello" }));
    const unknownStream = await fetch(`${t.url}/trpc/chat.stream?input=${input}`, { headers: bearer(stranger.token) });
    expectUnavailable(unknownStream);
    await unknownStream.body?.cancel();
    // On /ws/chat: an error frame to retry on, and the socket stays open.
    const socket = new WebSocket(`${t.url.replace(/^http/, "ws")}/ws/chat`);
    await once(socket, "open");
    const refusal = once(socket, "message");
    socket.send(JSON.stringify({ type: "auth", token: stranger.token }));
    const frame = JSON.parse(String((await refusal)[0])) as { type: string; code: string; retryAfterSec?: number };
    expect(frame).toMatchObject({ type: "error", code: "SERVICE_UNAVAILABLE" });
    expect(frame.retryAfterSec).toBeGreaterThan(0);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();

    const keys = await listKeys();
    expectUnavailable(keys);
    expect(keys.body.error.data.appCode).toBe("SERVICE_UNAVAILABLE");
    expect(keys.body.error.message).toMatch(/database is unavailable/);

    const login = await trpcMutation(t.url, "auth.login", { email: "someone@switchboard.test", password: "a-long-enough-password" });
    expectUnavailable(login);

    const rest = await fetch(`${t.url}/api/save-conversation`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(token) },
      body: JSON.stringify({ title: "kept?", messages: [{ role: "user", content: "hello" }] }),
    });
    expectUnavailable(rest);
    expect(((await rest.json()) as { error: { code: string } }).error.code).toBe("SERVICE_UNAVAILABLE");

    // A chat that starts a conversation fails before any model is called.
    const calls = upstreams.fakes.openai.requests.length;
    const legacyChat = await fetch(`${t.url}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(token) },
      body: JSON.stringify({ message: "hello" }),
    });
    expectUnavailable(legacyChat);
    expect(upstreams.fakes.openai.requests.length).toBe(calls);

    // Not "Invalid cursor": a failed page read is the database's state, not the caller's input.
    const history = await trpcQuery(t.url, "consensus.history", {}, bearer(token));
    expectUnavailable(history);

    // Raw statements fail as "raw query failed" and carry only the adapter's account of why.
    const raw = await t.app.deps.db.prisma.$executeRawUnsafe("SELECT 1").then(() => undefined, (error: unknown) => error);
    expect(isDatabaseUnavailable(raw)).toBe(true);

    const ready = await fetch(`${t.url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { database: { status: string } } }).checks.database.status).not.toBe("ok");

    // Credentials, limits and the gate are held in memory: a signed-in chat needs no database.
    const chat = await v1Chat();
    expect(chat.status).toBe(200);
    expect(((await chat.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBeTruthy();

    link.set("up");
    expect(await eventually(listKeys, 200)).toBe(200);
  });

  it("tells a caller it has not checked yet to retry over tRPC's WebSocket and at a freeze's role check", async () => {
    const root = t.client(await t.login());
    const stranger = await t.userWithRole("USER");
    // Frozen first: read-only observability then asks the caller's role, which needs the database.
    await root.emergency.freeze.mutate({ reason: "outage drill", scope: "global" });
    try {
      link.set("down");
      const socket = await openTrpcSocket(t.url, { token: stranger.token });
      try {
        const reply = await socket.call(1, "query", "auth.me");
        expect(reply.error?.data).toMatchObject({ appCode: "SERVICE_UNAVAILABLE", httpStatus: 503, retryAfterSec: 2 });
      } finally {
        await socket.close();
      }
      const gated = await trpcQuery(t.url, "logs.list", {}, bearer(stranger.token));
      expectUnavailable(gated);
      expect(gated.body.error.data.appCode).toBe("SERVICE_UNAVAILABLE");
    } finally {
      link.set("up");
      // auth.* answers while frozen; keys.list would be the freeze's 503.
      expect(await eventually(() => trpcQuery(t.url, "auth.me", undefined, bearer(stranger.token)), 200)).toBe(200);
      await root.emergency.unfreeze.mutate({ reason: "drill over" });
    }
  });

  it("ends a chat stream whose reply can no longer be stored with SERVICE_UNAVAILABLE and when to retry", async () => {
    expect((await listKeys()).status).toBe(200);
    upstreams.fakes.openai.enqueue({ kind: "ok", content: Array.from({ length: 20 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 50 });
    const res = await fetch(`${t.url}/api/chat/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(token) },
      body: JSON.stringify({ message: "keep this if you can" }),
    });
    // The headers leave with the first event, once the user's message is stored.
    expect(res.status).toBe(200);
    link.set("down");
    const events = (await res.text())
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice("data: ".length)) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: "chat_start" });
    expect(events.at(-1)).toEqual({ type: "error", code: "SERVICE_UNAVAILABLE", message: expect.stringContaining("database"), retryAfterSec: 2 });
  });

  it("answers a chat whose providers failed with the chain's error even when its failed reply cannot be stored", async () => {
    expect((await listKeys()).status).toBe(200);
    // The database goes away while the model is being called, and the model fails too.
    upstreams.fakes.openai.setDefault(() => {
      link.set("down");
      return { kind: "status", status: 429, retryAfter: "7" };
    });
    try {
      const res = await trpcMutation(t.url, "chat.send", { message: "are you there?", provider: "openai" }, bearer(token));
      // The caller learns why the answer failed and when the provider takes calls again,
      // not that the database is unavailable.
      expect(res.status).toBe(429);
      expect(res.body.error.data.appCode).not.toBe("SERVICE_UNAVAILABLE");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(6);
    } finally {
      upstreams.fakes.openai.setDefault({ kind: "ok" });
    }
  });

  it("ends a request whose database stopped answering with a 503, not a wait without end", async () => {
    const held = link.heldSilent;
    link.set("silent");
    // Requests on the pool's connections just cut fail at once; ask until one needed a new
    // connection, which the silent link accepts and never answers.
    let keys = await listKeys();
    for (const until = Date.now() + 30_000; link.heldSilent === held && Date.now() < until; ) keys = await listKeys();
    expect(link.heldSilent).toBeGreaterThan(held);
    // The pool's wait ended it: a 503, not a request held without end.
    expectUnavailable(keys);
    expect(keys.body.error.data.appCode).toBe("SERVICE_UNAVAILABLE");

    link.set("up");
    expect(await eventually(listKeys, 200)).toBe(200);
  }, 60_000);

  it("counts a connection cut under a running statement as the database unavailable", async () => {
    // The app's own pool first (a cut ends every connection through the link, the pool's too).
    const prisma = t.app.deps.db.prisma;
    const statement = prisma.$queryRawUnsafe("SELECT 1 AS cut_from_prisma FROM pg_sleep(5)").then(() => undefined, (error: unknown) => error);
    await untilRunning("AS cut_from_prisma");
    link.cut();
    const prismaFailure = await statement;
    expect(prismaFailure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(prismaFailure)).toBe(true);
    expect(await eventually(listKeys, 200)).toBe(200);

    // node-postgres' own error for it, as the adapter passes it on when it cannot name it.
    const client = new pg.Client({ connectionString: throughLink(database.url) });
    await client.connect();
    client.on("error", () => {});
    const running = client.query("SELECT 1 AS cut_from_pg FROM pg_sleep(5)").then(() => undefined, (error: unknown) => error);
    await untilRunning("AS cut_from_pg");
    link.cut();
    const failure = await running;
    await client.end().catch(() => {});
    expect(failure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(failure)).toBe(true);
    expect(await eventually(listKeys, 200)).toBe(200);
  });

  it("counts a statement ended by the server (an operator, a restart) as the database unavailable", async () => {
    const prisma = t.app.deps.db.prisma;
    const statement = prisma.$queryRawUnsafe("SELECT 1 AS ended_by_the_server FROM pg_sleep(5)").then(() => undefined, (error: unknown) => error);
    await untilRunning("AS ended_by_the_server");
    // What PostgreSQL does to its sessions when it shuts down: SQLSTATE 57P01.
    const ended = await adminQuery(database.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%AS ended_by_the_server%' AND pid <> pg_backend_pid()");
    expect(ended).toHaveLength(1);
    const failure = await statement;
    expect(failure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(failure)).toBe(true);
    expect(await eventually(listKeys, 200)).toBe(200);
  });

  it("tells a statement that failed on its own from an unavailable database", async () => {
    const prisma = t.app.deps.db.prisma;
    const missing = await prisma.$queryRawUnsafe("SELECT * FROM no_such_table").then(() => undefined, (error: unknown) => error);
    expect(missing).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(missing)).toBe(false);
    // More bind parameters than the protocol carries: SQLSTATE 08P01, a connection-class code
    // that our statement caused — retrying it can never help.
    const params = Array.from({ length: 70_000 }, (_, i) => `$${i + 1}`).join(",");
    const tooMany = await prisma.$queryRawUnsafe(`SELECT 1 WHERE 1 IN (${params})`, ...Array.from({ length: 70_000 }, () => 1)).then(() => undefined, (error: unknown) => error);
    expect((tooMany as { meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } }).meta?.driverAdapterError?.cause?.originalCode).toBe("08P01");
    expect(isDatabaseUnavailable(tooMany)).toBe(false);
  });
});

describe("the request log through an outage", () => {
  // A database and a link of their own: no other writer's INSERT to tell apart from the test's.
  let logDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let logLink: TcpLink;
  let opened: Database;
  beforeAll(async () => {
    logDb = await createTestDatabase();
    const target = new URL(logDb.url);
    logLink = await startTcpLink({ host: target.hostname, port: Number(target.port || 5432) });
    const through = new URL(logDb.url);
    through.hostname = "127.0.0.1";
    through.port = String(logLink.port);
    opened = await openDatabase({ databaseUrl: through.toString(), dataDir: "/nonexistent" });
  });
  afterAll(async () => {
    await opened?.close();
    await logLink?.close();
    await logDb?.drop();
  });
  afterEach(() => logLink.set("up"));

  const query = <T extends object>(sql: string, params: unknown[] = []) => adminQuery<T>(logDb.url, sql, params);
  const stored = async (prefix: string) => (await query<{ n: number }>(`SELECT count(*)::int AS n FROM "RequestLog" WHERE "requestId" LIKE $1`, [`${prefix}%`]))[0]!.n;
  const writerOn = (prisma: Database["prisma"]) => {
    const logged: string[] = [];
    const registry = new Registry();
    const writer = createLogWriter({ prisma, registry, retentionDays: 30, log: (line) => logged.push(line) });
    const counted = (name: string) => async () => (await registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
    return { writer, logged, dropped: counted("switchboard_request_log_dropped_total"), written: counted("switchboard_request_log_written_total") };
  };
  /** Flushes until nothing is pending (the pool reconnects on its own), for up to 15 s. */
  async function flushUntilEmpty(writer: ReturnType<typeof createLogWriter>): Promise<void> {
    for (const until = Date.now() + 15_000; writer.pending() > 0 && Date.now() < until; ) {
      await writer.flush();
      if (writer.pending() > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  /** Resolves once an INSERT into the request log is waiting on the server (10 s at most). */
  async function untilInsertWaits(): Promise<void> {
    for (const until = Date.now() + 10_000; Date.now() < until; ) {
      const [waiting] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO "RequestLog"%'`);
      if (waiting!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("no request-log INSERT waited within 10 s");
  }
  /** Runs `work` while no INSERT gets into the request log. */
  const whileLogLocked = <T>(work: () => Promise<T>) => whileTableLocked(logDb.url, "RequestLog", "SHARE", work);

  it("keeps rows the database could not take and writes them once it is back", async () => {
    const { writer, logged, dropped } = writerOn(opened.prisma);
    logLink.set("down");
    for (let i = 0; i < 3; i++) writer.record(requestLogRow({ requestId: `kept-${i}` }));
    await writer.flush();
    expect(writer.pending()).toBe(3);
    await writer.flush(); // a second failed flush logs nothing new
    expect(logged.filter((line) => line.includes("unavailable"))).toHaveLength(1);

    logLink.set("up");
    await flushUntilEmpty(writer);
    expect(writer.pending()).toBe(0);
    expect(await stored("kept-")).toBe(3);
    expect(await dropped()).toBe(0);
    expect(logged.at(-1)).toMatch(/resumed/);
  });

  it("writes a batch once when the connection was cut after the database had taken it", async () => {
    const { writer, dropped, written } = writerOn(opened.prisma);
    for (let i = 0; i < 3; i++) writer.record(requestLogRow({ requestId: `once-${i}` }));
    const flushing = await whileLogLocked(async () => {
      // The batch's INSERT waits on the server; the client's connection is cut meanwhile;
      // then the lock goes: the server commits the rows, but the writer never learns it did.
      const flushing = writer.flush();
      await untilInsertWaits();
      logLink.cut();
      return flushing;
    });
    await flushing;
    expect(writer.pending()).toBe(3);
    for (const until = Date.now() + 5_000; (await stored("once-")) < 3 && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await stored("once-")).toBe(3);

    // The retry, with rows recorded since in the same batch, writes nothing twice and loses nothing.
    writer.record(requestLogRow({ requestId: "once-later-0" }));
    writer.record(requestLogRow({ requestId: "once-later-1" }));
    await flushUntilEmpty(writer);
    expect(writer.pending()).toBe(0);
    expect(await stored("once-")).toBe(5);
    expect(await dropped()).toBe(0);
    // Each row counted once: the three the lost attempt stored too.
    expect(await written()).toBe(5);
  });

  it("retries a batch the database cancelled in halves, and writes every row once it can", async () => {
    const through = new URL(`postgresql://127.0.0.1:${logLink.port}`);
    const url = new URL(logDb.url);
    url.hostname = through.hostname;
    url.port = through.port;
    url.searchParams.set("options", "-c statement_timeout=300");
    const impatient = await openDatabase({ databaseUrl: url.toString(), dataDir: "/nonexistent", migrate: false });
    try {
      const { writer, logged, dropped } = writerOn(impatient.prisma);
      for (let i = 0; i < 4; i++) writer.record(requestLogRow({ requestId: `cancelled-${i}` }));
      await whileLogLocked(async () => {
        for (let i = 0; i < 3; i++) await writer.flush();
        // Every statement cancelled: nothing lost, each retry half as large, down to one row.
        expect(writer.pending()).toBe(4);
        expect(logged.filter((line) => line.includes("cancelled")).map((line) => /batches of (\d+)/.exec(line)?.[1])).toEqual(["2", "1"]);
      });
      await flushUntilEmpty(writer);
      expect(await stored("cancelled-")).toBe(4);
      expect(await dropped()).toBe(0);
    } finally {
      await impatient.close();
    }
  });
});

describe("an embedded database that was closed", () => {
  it("counts a statement racing shutdown as the database unavailable", async () => {
    const db = await openTestDatabase("PGlite");
    const prisma = db.prisma;
    await db.close();
    const failure = await prisma.$queryRawUnsafe("SELECT 1").then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(failure)).toBe(true);
  });
});

describe("a statement stuck behind a lock", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** Runs `probe` while another session holds every lock on "ApiKey". */
  const whileLocked = <T>(probe: () => Promise<T>) => whileTableLocked(db.url, "ApiKey", "ACCESS EXCLUSIVE", probe);

  /** Sessions of this database waiting for a lock now. */
  const lockWaiters = async () =>
    (await adminQuery<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0]!.n;

  it("answers 503 with Retry-After when the operator's statement_timeout ends a statement, and serves again when the lock is gone", async () => {
    // An operator's bound on every statement, given in DATABASE_URL.
    const app = await startTestApp({ databaseUrl: `${db.url}?options=${encodeURIComponent("-c statement_timeout=700")}` });
    try {
      const caller = bearer((await app.userWithRole("USER")).token);
      expect((await trpcQuery(app.url, "keys.list", undefined, caller)).status).toBe(200);
      const { stuck, waiting } = await whileLocked(async () => {
        const stuck = await trpcQuery(app.url, "keys.list", undefined, caller);
        // Still locked: the server cancelled its own statement, nothing of ours waits on the table.
        return { stuck, waiting: await lockWaiters() };
      });
      expectUnavailable(stuck);
      expect(stuck.body.error.data.appCode).toBe("SERVICE_UNAVAILABLE");
      expect(waiting).toBe(0);
      expect((await trpcQuery(app.url, "keys.list", undefined, caller)).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it("bounds every lock wait: 503 with Retry-After while another session holds the lock, nothing left waiting, nothing changed", async () => {
    // No operator bound: only ours. Before it, each of these waited for as long as the other
    // session kept its lock (Prisma's transaction bound does not end a statement already
    // waiting on the server), holding a pooled connection.
    const app = await startTestApp({ databaseUrl: db.url });
    try {
      const user = await app.userWithRole("USER");
      const doomed = await app.userWithRole("USER");
      const superAdmin = bearer((await app.userWithRole("SUPERADMIN")).token);
      const caller = bearer(user.token);
      const kept = (await trpcMutation(app.url, "keys.create", { name: "kept" }, caller)).body.result.data.id as string;
      const userRow = (id: string) => `SELECT 1 FROM "User" WHERE "id" = '${id}' FOR UPDATE`;
      const cases = [
        // Transactions that take locks of their own: a key placed under its owner's row,
        // tag budgets set one at a time (an advisory lock), a user deleted.
        { holds: userRow(user.id), call: () => trpcMutation(app.url, "keys.create", { name: "behind a lock" }, caller) },
        { holds: "SELECT pg_advisory_xact_lock(hashtext('switchboard:tag-budgets'))", call: () => trpcMutation(app.url, "tagBudgets.set", { tag: "team-a", budgetUsd: 5 }, superAdmin) },
        { holds: userRow(doomed.id), call: () => trpcMutation(app.url, "users.delete", { id: doomed.id }, superAdmin) },
        // Single statements, the containment calls among them: a key revoked, a user disabled, a sign-in.
        { holds: `SELECT 1 FROM "ApiKey" WHERE "id" = '${kept}' FOR UPDATE`, call: () => trpcMutation(app.url, "keys.revoke", { id: kept }, caller) },
        { holds: userRow(doomed.id), call: () => trpcMutation(app.url, "users.update", { id: doomed.id, disabled: true }, superAdmin) },
        { holds: userRow(user.id), call: () => trpcMutation(app.url, "auth.login", { email: user.email, password: user.password }) },
      ];
      for (const { holds, call } of cases) {
        const { stuck, waiting, tookMs } = await whileSessionHolds(db.url, holds, async () => {
          const started = performance.now();
          const stuck = await call();
          const tookMs = performance.now() - started;
          return { stuck, waiting: await lockWaiters(), tookMs };
        });
        expectUnavailable(stuck);
        expect(stuck.body.error.data.appCode).toBe("SERVICE_UNAVAILABLE");
        // The lock was still held when the answer came: the wait was bounded, not released.
        expect(tookMs).toBeGreaterThanOrEqual(LOCK_WAIT_MS - 100);
        expect(waiting).toBe(0);
      }
      // Nothing was written by the refused calls; each goes through once the lock is gone.
      const keys = (await trpcQuery(app.url, "keys.list", undefined, caller)).body.result.data.items as Array<{ id: string; revokedAt: string | null }>;
      expect(keys.map((k) => [k.id, k.revokedAt])).toEqual([[kept, null]]);
      expect((await trpcQuery(app.url, "tagBudgets.list", undefined, superAdmin)).body.result.data).toHaveLength(0);
      for (const { call } of cases.reverse()) expect((await call()).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it("lets a configuration change wait for an apply in progress, and no longer than its own bound", async () => {
    const app = await startTestApp({ databaseUrl: db.url });
    try {
      const superAdmin = bearer((await app.userWithRole("SUPERADMIN")).token);
      const upsert = (name: string) => trpcMutation(app.url, "models.upsert", { name, targets: [{ provider: "template", upstreamModel: "m" }] }, superAdmin);
      const versionRow = `SELECT 1 FROM "GatewayConfig" FOR UPDATE`;
      // An apply that holds the version row for longer than other calls may wait: the change waits and goes through.
      const { change } = await whileSessionHolds(db.url, versionRow, async () => {
        const change = upsert("after-the-apply");
        await new Promise((resolve) => setTimeout(resolve, LOCK_WAIT_MS + 1_000));
        // Wrapped: the lock goes only once this returns, and the change waits for it.
        return { change };
      });
      expect((await change).status).toBe(200);
      // One that never lets go: 503 with Retry-After, nothing left waiting, nothing changed.
      const stuck = await whileSessionHolds(db.url, versionRow, async () => ({ res: await upsert("behind-a-lock"), waiting: await lockWaiters() }));
      expectUnavailable(stuck.res);
      expect(stuck.waiting).toBe(0);
      const names = ((await trpcQuery(app.url, "models.list", undefined, superAdmin)).body.result.data.items as Array<{ name: string }>).map((m) => m.name);
      expect(names).toContain("after-the-apply");
      expect(names).not.toContain("behind-a-lock");
    } finally {
      await app.close();
    }
  });

  it("keeps an operator's shorter lock bound inside our transactions, and puts ours where there is none", async () => {
    const setting = async (options: string | null) => {
      const opened = await openDatabase({ databaseUrl: options ? `${db.url}?options=${encodeURIComponent(options)}` : db.url, dataDir: "/nonexistent", migrate: false });
      try {
        return await opened.prisma.$transaction(async (tx) => {
          await boundLockWaits(tx);
          return (await tx.$queryRaw<Array<{ v: string }>>`SELECT current_setting('lock_timeout') AS v`)[0]!.v;
        });
      } finally {
        await opened.close();
      }
    };
    expect(await setting("-c lock_timeout=300")).toBe("300ms");
    expect(await setting("-c lock_timeout=60s")).toBe(`${LOCK_WAIT_MS / 1000}s`);
    expect(await setting(null)).toBe(`${LOCK_WAIT_MS / 1000}s`);
  });

  it("counts a statement the server cancelled, or a lock not granted in time, as the database busy", async () => {
    for (const setting of ["statement_timeout=300", "lock_timeout=300"]) {
      const opened = await openDatabase({ databaseUrl: `${db.url}?options=${encodeURIComponent(`-c ${setting}`)}`, dataDir: "/nonexistent", migrate: false });
      try {
        const failure = await whileLocked(() => opened.prisma.apiKey.count().then(() => undefined, (error: unknown) => error));
        expect((failure as { meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } }).meta?.driverAdapterError?.cause?.originalCode).toBe(setting.startsWith("lock") ? "55P03" : "57014");
        expect(isDatabaseUnavailable(failure)).toBe(true);
      } finally {
        await opened.close();
      }
    }
  });
});

describe("a statement that runs long", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** statement_timeout on a connection of the app's own pool. */
  const appBound = (app: TestApp) => app.app.deps.db.prisma.$queryRawUnsafe<Array<{ statement_timeout: string }>>("SHOW statement_timeout").then((rows) => rows[0]!.statement_timeout);

  it("bounds every statement on the app's pooled connections, and keeps an operator's shorter bound", async () => {
    const bounded = async (url: string, env: Record<string, string> = {}) => {
      const app = await startTestApp({ databaseUrl: url, env });
      try {
        return await appBound(app);
      } finally {
        await app.close();
      }
    };
    const withOptions = (options: string) => `${db.url}?options=${encodeURIComponent(options)}`;
    expect(await bounded(db.url)).toBe("30s");
    expect(await bounded(db.url, { DATABASE_STATEMENT_TIMEOUT_MS: "2500" })).toBe("2500ms");
    // None of ours: the server's, or an operator's, is the only one.
    expect(await bounded(db.url, { DATABASE_STATEMENT_TIMEOUT_MS: "0" })).toBe("0");
    expect(await bounded(withOptions("-c statement_timeout=700"), { DATABASE_STATEMENT_TIMEOUT_MS: "0" })).toBe("700ms");
    // An operator's bound stays, shorter or longer: ours is set only where none is.
    expect(await bounded(withOptions("-c statement_timeout=700"))).toBe("700ms");
    expect(await bounded(withOptions("-c statement_timeout=120s"))).toBe("2min");
  });

  it("answers 503 with Retry-After, not 500, for a request whose statement runs past the bound, and names the bound in the log", async () => {
    const log = captureLog();
    const app = await startTestApp({ databaseUrl: db.url, env: { DATABASE_STATEMENT_TIMEOUT_MS: "300", LOG_LEVEL: "error" }, logDestination: log.sink });
    try {
      const caller = bearer((await app.userWithRole("USER")).token);
      // A key created sleeps in the database (a trigger of this test's own database): its
      // INSERT runs past the bound, and nothing else holds it.
      await adminQuery(
        db.url,
        `CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$;
         CREATE TRIGGER slow_insert BEFORE INSERT ON "ApiKey" FOR EACH ROW EXECUTE FUNCTION slow_insert()`,
      );
      const slow = await trpcMutation(app.url, "keys.create", { name: "slow" }, caller);
      expectUnavailable(slow);
      expect(slow.body.error.data.appCode).toBe("SERVICE_UNAVAILABLE");
      expect(log.lines.some((line) => String(line["msg"]).includes("DATABASE_STATEMENT_TIMEOUT_MS"))).toBe(true);
      // Nothing of it was written; once the statement is quick again, the same call goes through.
      await adminQuery(db.url, `DROP TRIGGER slow_insert ON "ApiKey"`);
      expect((await trpcQuery(app.url, "keys.list", undefined, caller)).body.result.data.items).toHaveLength(0);
      expect((await trpcMutation(app.url, "keys.create", { name: "quick" }, caller)).status).toBe(200);
    } finally {
      await app.close();
      await adminQuery(db.url, `DROP TRIGGER IF EXISTS slow_insert ON "ApiKey"; DROP FUNCTION IF EXISTS slow_insert()`);
    }
  });

  it("lets a statement long by design run past the bound, under a longer one of its own, never past an operator's", async () => {
    const open = (url: string, statementTimeoutMs: number) => openDatabase({ databaseUrl: url, dataDir: "/nonexistent", migrate: false, statementTimeoutMs });
    const opened = await open(db.url, 200);
    try {
      const { prisma } = opened;
      const failure = await prisma.$queryRawUnsafe("SELECT 1 AS slept FROM pg_sleep(0.5)").then(() => undefined, (error: unknown) => error);
      expect(isStatementCancelled(failure)).toBe(true);
      expect(isDatabaseUnavailable(failure)).toBe(true);
      // Past Prisma's default transaction bound (5 s) too: runLongStatement's transaction has its own, longer one.
      await expect(runLongStatement(prisma, (tx) => tx.$queryRawUnsafe("SELECT 1 AS slept FROM pg_sleep(5.5)"))).resolves.toBeDefined();
      const raised = await runLongStatement(prisma, (tx) => tx.$queryRawUnsafe<Array<{ v: string }>>("SELECT current_setting('statement_timeout') AS v"));
      expect(raised[0]!.v).toBe(`${LONG_STATEMENT_MS / 1000}s`);
      // The raise was for that transaction only.
      expect((await prisma.$queryRawUnsafe<Array<{ v: string }>>("SELECT current_setting('statement_timeout') AS v"))[0]!.v).toBe("200ms");
    } finally {
      await opened.close();
    }
    // An operator's bound (here in DATABASE_URL) is theirs, shorter or longer: never raised.
    const longBoundUnder = async (operators: string, ours: number) => {
      const opened = await open(`${db.url}?options=${encodeURIComponent(`-c statement_timeout=${operators}`)}`, ours);
      try {
        return (await runLongStatement(opened.prisma, (tx) => tx.$queryRawUnsafe<Array<{ v: string }>>("SELECT current_setting('statement_timeout') AS v")))[0]!.v;
      } finally {
        await opened.close();
      }
    };
    expect(await longBoundUnder("150", 30_000)).toBe("150ms");
    expect(await longBoundUnder("45s", 200)).toBe("45s");
    expect(await longBoundUnder("10min", 200)).toBe("10min");
  });
});
