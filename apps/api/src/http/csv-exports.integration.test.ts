/**
 * The CSV downloads, read back with a CSV parser. GET /api/logs/export.csv: the rows logs.list
 * keeps with the same filters, newest first, across its pages; a USER's own, an ADMIN's
 * everyone's; a cell a spreadsheet would run as a formula is quoted out. GET
 * /api/usage/export.csv: usage.summary's groups and its total. Refusals are plain statuses
 * before any CSV is sent; HEAD reads no more than the first page; the headers say how many rows
 * the file holds and whether more matched than its cap; the end of the credential that asked,
 * or a page that cannot be read, aborts the download.
 */
import { randomUUID } from "node:crypto";
import { LOG_EXPORT_HEADERS } from "@switchboard/schema";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer } from "../../test/http.ts";
import { requestLogRow } from "../../test/request-log-row.ts";

let t: TestApp;
let user: { id: string; token: string };
let other: { id: string; token: string };
let admin: { id: string; token: string };
/** The most rows an export holds here: lowered, so a cut export needs a few hundred rows, not 100,001. */
const CAP = 240;

beforeAll(async () => {
  t = await startTestApp({ mode: "embedded", env: { CHAT_RATE_LIMIT_PER_MIN: "1000", STREAMS_PER_USER: "2" }, appOptions: { requestLogFlushMs: 50, logExportMaxRows: CAP } });
  [user, other, admin] = [await t.userWithRole("USER"), await t.userWithRole("USER"), await t.userWithRole("ADMIN")];
}, 120_000);
afterAll(async () => t?.close());

const chat = (token: string, model = "auto") =>
  fetch(`${t.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }] }),
  });

async function exportCsv(token: string | undefined, query = "", what = "logs") {
  const res = await fetch(`${t.url}/api/${what}/export.csv${query}`, { headers: token ? bearer(token) : {} });
  return { res, text: await res.text() };
}
/** An export's response, its body not yet read. */
const exportResponse = (token: string) => fetch(`${t.url}/api/logs/export.csv`, { headers: bearer(token) });
const recordsOf = (text: string) => parse(text, { columns: true }) as Array<Record<string, string>>;
/** What an export's headers say of its size: [rows, truncated]. */
const sizeOf = (res: Response) => [res.headers.get(LOG_EXPORT_HEADERS.rows), res.headers.get(LOG_EXPORT_HEADERS.truncated)];
/** `count` request-log rows of a user, one a millisecond up to a minute ago (the last the newest). */
async function logRows(userId: string, count: number, fields: (i: number) => Partial<Parameters<typeof requestLogRow>[0]> = () => ({})) {
  const at = Date.now() - 60_000;
  const rows = Array.from({ length: count }, (_, i) => {
    const row = requestLogRow({ userId, createdAt: new Date(at + i), ...fields(i) });
    return { ...row, tags: [...row.tags], id: randomUUID(), attempts: [] };
  });
  await t.app.deps.db.prisma.requestLog.createMany({ data: rows });
  return rows;
}

describe("GET /api/logs/export.csv", () => {
  it("writes a USER's own requests, newest first, with logs.list's fields; an ADMIN's holds everyone's", async () => {
    const ids: string[] = [];
    for (const token of [user.token, user.token, other.token]) ids.push((await chat(token)).headers.get("x-request-id")!);
    await t.app.deps.requestLog.flush();

    const { res, text } = await exportCsv(user.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="switchboard-requests-\d{4}-\d\d-\d\d\.csv"$/);
    expect(text.split("\n")[0]).toBe(
      "createdAt,requestId,status,errorCode,route,model,provider,upstreamModel,userId,keyId,promptTokens,completionTokens,cachedTokens,costUsd,cacheHit,cacheSavedUsd,latencyMs,ttftMs,stream,tags,id",
    );
    const own = recordsOf(text);
    expect(own.map((r) => r.requestId)).toEqual([ids[1], ids[0]]);
    expect(own[0]).toMatchObject({ status: "200", route: "/v1/chat/completions", model: "auto", userId: user.id, cacheHit: "false", stream: "false", tags: "" });
    // The same fields as logs.list's item.
    const listed = (await t.client(user.token).logs.list.query({ limit: 1 })).items[0]!;
    expect(own[0]).toMatchObject({ id: listed.id, createdAt: listed.createdAt, costUsd: String(listed.costUsd), latencyMs: String(listed.latencyMs) });

    const all = recordsOf((await exportCsv(admin.token)).text).map((r) => r.requestId);
    expect(all).toEqual(expect.arrayContaining(ids));
  });

  it("keeps logs.list's filters, given as query parameters, and reads past its first page", async () => {
    const refused = await chat(user.token, "no-such-model");
    expect(refused.status).toBe(404);
    // More rows than one page holds, for a user of their own.
    const many = randomUUID();
    const at = Date.now() - 60_000;
    await t.app.deps.db.prisma.requestLog.createMany({
      data: Array.from({ length: 230 }, (_, i) => ({ ...requestLogRow({ userId: many, createdAt: new Date(at + i) }), tags: ["bulk:export"], id: randomUUID(), attempts: [] })),
    });
    await t.app.deps.requestLog.flush();

    const errors = recordsOf((await exportCsv(user.token, "?status=4xx")).text);
    expect(errors.map((r) => [r.requestId, r.status, r.model])).toEqual([[refused.headers.get("x-request-id"), "404", "no-such-model"]]);
    const bulk = recordsOf((await exportCsv(admin.token, `?userId=${many}&tag=bulk:export`)).text);
    expect(bulk).toHaveLength(230);
    const times = bulk.map((r) => r.createdAt);
    expect(times).toEqual([...times].sort().reverse());
    expect(new Set(bulk.map((r) => r.id)).size).toBe(230);
    expect(bulk[0]!.tags).toBe("bulk:export");
    expect(recordsOf((await exportCsv(admin.token, `?userId=${many}&status=404`)).text)).toEqual([]);
    expect(recordsOf((await exportCsv(admin.token, `?userId=${many}&cacheHit=true`)).text)).toEqual([]);
    // Another user's rows are not a USER's to read, whatever the filter.
    expect(recordsOf((await exportCsv(user.token, `?userId=${many}`)).text)).toEqual([]);
  });

  it("quotes out a cell a spreadsheet would run as a formula", async () => {
    const formula = "=HYPERLINK(\"http://evil.example\",\"x\")";
    expect((await chat(other.token, formula)).status).toBe(404);
    await t.app.deps.requestLog.flush();
    const [row] = recordsOf((await exportCsv(other.token, "?status=404")).text);
    expect(row!.model).toBe(`'${formula}`);
  });

  it("refuses before any CSV: no credentials 401, a key without read:metrics 403, a malformed filter 400 naming it", async () => {
    expect((await exportCsv(undefined)).res.status).toBe(401);
    const chatOnly = await t.client(user.token).keys.create.mutate({ name: "chat only", scopes: ["chat"] });
    expect((await exportCsv(chatOnly.key)).res.status).toBe(403);
    const reader = await t.client(user.token).keys.create.mutate({ name: "reader", scopes: ["read:metrics"] });
    expect((await exportCsv(reader.key)).res.status).toBe(200);
    for (const query of ["?status=abc", "?from=yesterday", "?cacheHit=maybe"]) {
      const { res, text } = await exportCsv(user.token, query);
      expect(res.status, query).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(text).toContain(query.slice(1, query.indexOf("=")));
    }
  });
  it("stops reading pages when the API key that asked is revoked mid-export", async () => {
    const owner = await t.userWithRole("USER");
    const at = Date.now() - 60_000;
    await t.app.deps.db.prisma.requestLog.createMany({
      data: Array.from({ length: 250 }, (_, i) => ({ ...requestLogRow({ userId: owner.id, createdAt: new Date(at + i) }), tags: [], id: randomUUID(), attempts: [] })),
    });
    const reader = await t.client(owner.token).keys.create.mutate({ name: "exporter", scopes: ["read:metrics"] });
    // The second page waits until the key is revoked.
    const logs = t.app.deps.requestLog;
    const list = logs.list;
    let release!: () => void;
    const revoked = new Promise<void>((resolve) => (release = resolve));
    let pages = 0;
    logs.list = async (...args) => {
      pages += 1;
      if (pages === 2) await revoked;
      return list(...args);
    };
    try {
      const res = await fetch(`${t.url}/api/logs/export.csv`, { headers: bearer(reader.key) });
      expect(res.status).toBe(200);
      await t.client(owner.token).keys.revoke.mutate({ id: reader.id });
      expect((await exportCsv(reader.key)).res.status).toBe(401);
      release();
      await expect(res.text()).rejects.toThrow();
      expect(pages).toBeLessThanOrEqual(2);
    } finally {
      logs.list = list;
    }
  });

  it("holds one of the user's stream slots while it runs: past STREAMS_PER_USER, a 429 with Retry-After", async () => {
    const owner = await t.userWithRole("USER");
    await t.app.deps.db.prisma.requestLog.createMany({
      data: Array.from({ length: 150 }, () => ({ ...requestLogRow({ userId: owner.id }), tags: [], id: randomUUID(), attempts: [] })),
    });
    // Second pages wait, so the exports stay open.
    const logs = t.app.deps.requestLog;
    const list = logs.list;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    logs.list = async (viewer, input) => {
      if (input?.cursor) await held;
      return list(viewer, input);
    };
    try {
      const open = [await exportResponse(owner.token), await exportResponse(owner.token)];
      expect(open.map((r) => r.status)).toEqual([200, 200]);
      const refused = await exportCsv(owner.token);
      expect(refused.res.status).toBe(429);
      expect(refused.res.headers.get("retry-after")).toBe("5");
      expect(refused.text).toContain("open streams");
      release();
      for (const res of open) expect(recordsOf(await res.text())).toHaveLength(150);
      // Ended, they free their slots.
      expect((await exportCsv(owner.token)).res.status).toBe(200);
    } finally {
      logs.list = list;
    }
  });

  it("answers HEAD with GET's status and headers, reading no page past the first", async () => {
    const owner = await t.userWithRole("USER");
    const at = Date.now() - 60_000;
    await t.app.deps.db.prisma.requestLog.createMany({
      data: Array.from({ length: 250 }, (_, i) => ({ ...requestLogRow({ userId: owner.id, createdAt: new Date(at + i) }), tags: [], id: randomUUID(), attempts: [] })),
    });
    const logs = t.app.deps.requestLog;
    const list = logs.list;
    let pages = 0;
    logs.list = (...args) => {
      pages += 1;
      return list(...args);
    };
    try {
      const head = await fetch(`${t.url}/api/logs/export.csv`, { method: "HEAD", headers: bearer(owner.token) });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(head.headers.get("content-disposition")).toMatch(/^attachment; filename=/);
      expect((await fetch(`${t.url}/api/logs/export.csv?status=abc`, { method: "HEAD", headers: bearer(owner.token) })).status).toBe(400);
      // A moment for pages an export would go on reading.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(pages).toBe(1);
    } finally {
      logs.list = list;
    }
  });
});

describe("GET /api/logs/export.csv: whole, or saying it is not", () => {
  it("says in its headers how many rows the file holds, counted with logs.list's filters and who-reads-what", async () => {
    const owner = await t.userWithRole("USER");
    // 200 tagged, 20 of them failed (more than a page, fewer than the cap); another user's 30 alike.
    await logRows(owner.id, 200, (i) => ({ tags: ["count:me"], ...(i < 20 ? { status: 500 } : {}) }));
    await logRows(other.id, 30, () => ({ tags: ["count:me"] }));
    const whole = await exportCsv(owner.token, "?tag=count:me");
    expect(sizeOf(whole.res)).toEqual(["200", "false"]);
    expect(recordsOf(whole.text)).toHaveLength(200);
    // A USER's count is of their own rows; an ADMIN's holds everyone's, or whose they name.
    expect(sizeOf((await exportCsv(admin.token, "?tag=count:me")).res)).toEqual(["230", "false"]);
    expect(sizeOf((await exportCsv(admin.token, `?userId=${owner.id}&status=2xx`)).res)).toEqual(["180", "false"]);
    expect(sizeOf((await exportCsv(other.token, `?userId=${owner.id}`)).res)).toEqual(["0", "false"]);
    // A first page that holds every match, and no match at all.
    expect(sizeOf((await exportCsv(owner.token, "?status=5xx")).res)).toEqual(["20", "false"]);
    expect(sizeOf((await exportCsv(owner.token, "?status=404")).res)).toEqual(["0", "false"]);
  });

  it("counts from its first page's first row: rows logged after that page was read are in neither the count nor the file", async () => {
    const owner = await t.userWithRole("USER");
    await logRows(owner.id, 150);
    const viewer = { id: owner.id, role: "USER" as const };
    const first = await t.app.deps.requestLog.list(viewer, { limit: 100 });
    // Requests logged between the first page and the count (a busy gateway's, every millisecond).
    await logRows(owner.id, 5, () => ({ createdAt: new Date(Date.now() + 1_000) }));
    expect(await t.app.deps.requestLog.countUpTo(viewer, {}, 1_000, first.items[0])).toBe(150);
    expect(await t.app.deps.requestLog.countUpTo(viewer, {}, 1_000)).toBe(155);
    // A row in the same millisecond as the first row, ordered before it (a larger id), is newer too.
    const top = first.items[0]!;
    await t.app.deps.db.prisma.requestLog.create({ data: { ...requestLogRow({ userId: owner.id, createdAt: new Date(top.createdAt) }), tags: [], id: "ffffffff-ffff-4fff-bfff-ffffffffffff", attempts: [] } });
    expect(await t.app.deps.requestLog.countUpTo(viewer, {}, 1_000, top)).toBe(150);
  });

  it("says it is cut when more rows match than the cap: the file holds the newest, GET and HEAD alike", async () => {
    const owner = await t.userWithRole("USER");
    const rows = await logRows(owner.id, CAP + 10);
    const { res, text } = await exportCsv(owner.token);
    expect(res.status).toBe(200);
    expect(sizeOf(res)).toEqual([String(CAP), "true"]);
    const newest = rows.slice(10).reverse().map((r) => r.requestId);
    expect(recordsOf(text).map((r) => r.requestId)).toEqual(newest);
    const head = await fetch(`${t.url}/api/logs/export.csv`, { method: "HEAD", headers: bearer(owner.token) });
    expect(sizeOf(head)).toEqual([String(CAP), "true"]);
    // Narrowed to the cap, it is whole again.
    const from = rows[10]!.createdAt.toISOString();
    expect(sizeOf((await exportCsv(owner.token, `?from=${from}`)).res)).toEqual([String(CAP), "false"]);
  });

  it("aborts the transfer when a page after the headers cannot be read: never a clean end", async () => {
    const owner = await t.userWithRole("USER");
    const rows = await logRows(owner.id, 150);
    // A row logs.list cannot answer (a cost PostgreSQL holds as NaN, which JSON cannot carry),
    // the oldest: the first page is read and sent, the second fails.
    await t.app.deps.db.prisma.$executeRaw`UPDATE "RequestLog" SET "costUsd" = 'NaN' WHERE "id" = ${rows[0]!.id}`;
    const res = await exportResponse(owner.token);
    expect(res.status).toBe(200);
    expect(sizeOf(res)).toEqual(["150", "false"]);
    await expect(res.text()).rejects.toThrow();
    // Its stream slot is free again.
    expect((await exportCsv(owner.token, "?status=5xx")).res.status).toBe(200);
  });
});

describe("GET /api/usage/export.csv", () => {
  it("writes usage.summary's groups and a TOTAL row, with its parameters; a USER's own", async () => {
    const spender = await t.userWithRole("USER");
    for (const model of ["auto", "auto", "no-such-model"]) await chat(spender.token, model);
    await t.app.deps.requestLog.flush();
    const summary = await t.client(spender.token).usage.summary.query({ groupBy: "model" });
    const { res, text } = await exportCsv(spender.token, "?groupBy=model", "usage");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="switchboard-usage-by-model-\d{4}-\d\d-\d\d\.csv"$/);
    expect(text.split("\n")[0]).toBe("key,label,requests,promptTokens,completionTokens,costUsd,cacheHits,cacheSavedUsd");
    const rows = recordsOf(text);
    expect(rows.map((r) => [r.key, Number(r.requests)])).toEqual([...summary.groups.map((g) => [g.key, g.requests]), ["TOTAL", 3]]);
    expect(rows.at(-1)).toMatchObject({ costUsd: String(summary.total.costUsd), promptTokens: String(summary.total.promptTokens) });
    // By day for one day: the caller's three requests, no one else's.
    const today = new Date().toISOString().slice(0, 10);
    expect(recordsOf((await exportCsv(spender.token, `?groupBy=day&from=${today}T00:00:00Z`, "usage")).text).map((r) => [r.key, r.requests])).toEqual([[today, "3"], ["TOTAL", "3"]]);
  });

  it("refuses a missing or unknown groupBy with a 400 naming it, and no credentials with a 401", async () => {
    for (const query of ["", "?groupBy=everything"]) {
      const { res, text } = await exportCsv(user.token, query, "usage");
      expect(res.status, query).toBe(400);
      expect(text).toContain("groupBy");
    }
    expect((await exportCsv(undefined, "?groupBy=model", "usage")).res.status).toBe(401);
  });
});
