/**
 * PostgreSQL going away under a running cluster instance, through a TCP link the test breaks:
 * what needs the database answers 503 with Retry-After on every transport (never a 500, never
 * a request held without end), what does not — a signed-in /v1 chat — goes on, and the
 * instance serves everything again once the database is back, without a restart.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { createTestDatabase, openTestDatabase } from "../../test/database.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startTcpLink, type TcpLink } from "../../test/tcp-link.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";
import { isDatabaseUnavailable } from "./database-errors.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let link: TcpLink;
let upstreams: Upstreams<"openai">;
let t: TestApp;
let token: string;

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
    await link.set("down");

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

    const ready = await fetch(`${t.url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { database: { status: string } } }).checks.database.status).not.toBe("ok");

    // Credentials, limits and the gate are held in memory: a signed-in chat needs no database.
    const chat = await v1Chat();
    expect(chat.status).toBe(200);
    expect(((await chat.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBeTruthy();

    await link.set("up");
    expect(await eventually(listKeys, 200)).toBe(200);
  });

  it("ends a request whose database stopped answering with a 503, not a wait without end", async () => {
    await link.set("silent");
    // Let the pool drop the connections just cut, so that the request needs a new one.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const keys = await listKeys();
    expectUnavailable(keys);
    expect(keys.body.error.data.appCode).toBe("SERVICE_UNAVAILABLE");

    await link.set("up");
    expect(await eventually(listKeys, 200)).toBe(200);
  }, 30_000);

  it("counts a connection cut under a running statement as the database unavailable", async () => {
    const client = new pg.Client({ connectionString: throughLink(database.url) });
    await client.connect();
    client.on("error", () => {});
    const running = client.query("SELECT 1 FROM pg_sleep(5)").then(() => undefined, (error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    link.cut();
    const failure = await running;
    await client.end().catch(() => {});
    expect(failure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(failure)).toBe(true);

    const prisma = t.app.deps.db.prisma;
    const statement = prisma.$queryRawUnsafe("SELECT 1 FROM pg_sleep(5)").then(() => undefined, (error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    link.cut();
    const prismaFailure = await statement;
    expect(prismaFailure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(prismaFailure)).toBe(true);
    expect(await eventually(listKeys, 200)).toBe(200);
  });

  it("counts a statement ended by the server (an operator, a restart) as the database unavailable", async () => {
    const prisma = t.app.deps.db.prisma;
    const statement = prisma.$queryRawUnsafe("SELECT 1 AS ended_by_the_server FROM pg_sleep(5)").then(() => undefined, (error: unknown) => error);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      // What PostgreSQL does to its sessions when it shuts down: SQLSTATE 57P01.
      for (let ended = 0; ended === 0; ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%AS ended_by_the_server%' AND pid <> pg_backend_pid()");
        ended = rowCount ?? 0;
      }
    } finally {
      await admin.end();
    }
    const failure = await statement;
    expect(failure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(failure)).toBe(true);
    expect(await eventually(listKeys, 200)).toBe(200);
  });

  it("tells a statement that failed on its own from an unavailable database", async () => {
    const failure = await t.app.deps.db.prisma.$queryRawUnsafe("SELECT * FROM no_such_table").then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(failure)).toBe(false);
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
