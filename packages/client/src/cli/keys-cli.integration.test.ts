/**
 * `switchboard keys|logs|usage|tag-budgets|cache`, spawned as a real process against a real
 * server: create a key, use it through SWITCHBOARD_API_KEY, see the call in `logs tail` and
 * `usage`, revoke it; cap a tag's spend; purge kept answers and read the purges on record;
 * export the log, whole, cut at the server's cap, or broken off.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/run-cli.ts";
import { priceAutoRoute, startTestApp, type TestApp } from "../../../../apps/api/test/app.ts";
import { requestLogRow } from "../../../../apps/api/test/request-log-row.ts";

const cli = (args: string[], env: Record<string, string>) => runCli(args, { env });

/** A /v1 chat as a program sends it, with a credential and, when given, x-switchboard-tags. */
const chat = (app: TestApp, credential: string, content: string, tags?: string) =>
  fetch(`${app.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${credential}`, "content-type": "application/json", ...(tags ? { "x-switchboard-tags": tags } : {}) },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content }] }),
  });

let t: TestApp;
let user: { token: string; email: string };
/** The most rows a log export holds here (the server's test knob). */
const EXPORT_CAP = 150;

/** `count` request-log rows of a user, a millisecond apart, oldest first. */
async function logRows(userId: string, count: number) {
  const at = Date.now() - 60_000;
  const rows = Array.from({ length: count }, (_, i) => ({ ...requestLogRow({ userId, createdAt: new Date(at + i) }), tags: [], id: randomUUID(), attempts: [] }));
  await t.app.deps.db.prisma.requestLog.createMany({ data: rows });
  return rows;
}

/**
 * A hop in front of the server that answers its clients in HTTP/1.0, as a proxy does that
 * reads its upstream over HTTP/1.0 (NGINX's default `proxy_pass`): the end of the body is the
 * end of the connection, so a transfer cut short reads as a clean end. It passes the server's
 * status and headers, then the first `fraction` of the body (until `passWhole()`).
 */
async function http10HopThatEndsEarly(target: string, fraction: number) {
  let part = fraction;
  const server = createServer((socket) => {
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      void (async () => {
        const [, path] = /^GET (\S+) /.exec(head) ?? [];
        const authorization = /^authorization: (.*)$/im.exec(head)?.[1]?.trim() ?? "";
        const res = await fetch(`${target}${path}`, { headers: { authorization } });
        const body = Buffer.from(await res.arrayBuffer());
        const headers = [...res.headers].filter(([name]) => !["transfer-encoding", "connection", "keep-alive", "content-length"].includes(name));
        socket.end(
          Buffer.concat([
            Buffer.from(`HTTP/1.0 ${res.status} ${res.statusText}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`, "latin1"),
            body.subarray(0, Math.floor(body.length * part)),
          ]),
        );
      })().catch((error: unknown) => socket.destroy(error as Error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    passWhole: () => void (part = 1),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

beforeAll(async () => {
  t = await startTestApp({ mode: "embedded", appOptions: { requestLogFlushMs: 50, logExportMaxRows: EXPORT_CAP }, env: { CHAT_RATE_LIMIT_PER_MIN: "1000" } });
  user = await t.userWithRole("USER");
});
afterAll(async () => t?.close());

describe("switchboard keys, logs, usage (CLI)", () => {
  it("creates a key, uses it, tails the log, sums usage and revokes it", async () => {
    const asUser = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: user.token };
    const created = await cli(["keys", "create", "--name", "from cli", "--scopes", "chat,models,read:metrics", "--tags", "app:cli", "--json"], asUser);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; tags: string[] };
    expect(key.key).toMatch(/^sb-/);
    expect(key.tags).toEqual(["app:cli"]);

    const listed = await cli(["keys", "list"], asUser);
    expect(listed.stdout).toContain("from cli");
    expect(listed.stdout).not.toContain(key.key);

    // The typed client inside the CLI authenticates with the key itself.
    const asKey = { SWITCHBOARD_URL: t.url, SWITCHBOARD_API_KEY: key.key };
    const res = await chat(t, key.key, "hi");
    expect(res.status).toBe(200);
    await t.app.deps.requestLog.flush();
    const tail = await cli(["logs", "tail", "--once"], asKey);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout).toMatch(/200 {2}\/v1\/chat\/completions/);
    const usage = await cli(["usage", "--group-by", "key"], asKey);
    expect(usage.code, usage.stderr).toBe(0);
    expect(usage.stdout).toContain("from cli");

    // A tagged request: --tag finds it alone, in the log and in usage.
    const tagged = await chat(t, key.key, "tagged", "team:cli");
    expect(tagged.status).toBe(200);
    await t.app.deps.requestLog.flush();
    const tailTagged = await cli(["logs", "tail", "--once", "--tag", "team:cli"], asKey);
    expect(tailTagged.code, tailTagged.stderr).toBe(0);
    expect(tailTagged.stdout.trim().split("\n")).toEqual([expect.stringMatching(/200 {2}\/v1\/chat\/completions.*\[app:cli,team:cli\]$/)]);
    const usageTagged = await cli(["usage", "--tag", "team:cli", "--json"], asKey);
    expect(usageTagged.code, usageTagged.stderr).toBe(0);
    expect((JSON.parse(usageTagged.stdout) as { total: { requests: number } }).total.requests).toBe(1);
    // By tag: the key's own tag holds every request made with it, the request's tag the one.
    const byTag = await cli(["usage", "--group-by", "tag"], asKey);
    expect(byTag.code, byTag.stderr).toBe(0);
    expect(byTag.stdout).toMatch(/^TAG\s/m);
    expect(byTag.stdout).toMatch(/^app:cli\s+[2-9]\d*\s/m);
    expect(byTag.stdout).toMatch(/^team:cli\s+1\s/m);

    // Retagged: the next request carries the new tags; an empty list clears them.
    const retagged = await cli(["keys", "update", key.id, "--tags", "app:cli-v2", "--name", "from cli, v2"], asUser);
    expect(retagged.code, retagged.stderr).toBe(0);
    expect(retagged.stdout).toContain('Updated "from cli, v2"');
    expect(retagged.stdout).toContain("tags app:cli-v2");
    const after2 = await chat(t, key.key, "after the update");
    expect(after2.status).toBe(200);
    await t.app.deps.requestLog.flush();
    expect((await cli(["logs", "tail", "--once", "--tag", "app:cli-v2"], asKey)).stdout.trim().split("\n")).toHaveLength(1);
    const cleared = await cli(["keys", "update", key.id, "--tags", "", "--json"], asUser);
    expect((JSON.parse(cleared.stdout) as { tags: string[] }).tags).toEqual([]);

    // Keys cannot manage keys: a signed-in person must.
    expect((await cli(["keys", "list"], asKey)).code).toBe(1);
    const revoked = await cli(["keys", "revoke", key.id], asUser);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await cli(["usage"], asKey);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain("UNAUTHORIZED");
  });

  it("prints what other people chose (a model name, a key name) as text: no escape sequence reaches the terminal, no newline forges a row", async () => {
    // Clears the screen, hides what follows (0x9b is ESC [ to a terminal), then starts a forged row
    // (the tail shows a model's first 14 characters).
    const hostile = "\u001b[2J\u009b8m\r\n2026-01-01T00:00:00.000Z  200  /v1/chat/completions  auto";
    const caller = await t.userWithRole("USER");
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${caller.token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: hostile, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(404); // no such model, but the request is logged with the name it asked for
    await t.client(caller.token).keys.create.mutate({ name: hostile });
    await t.app.deps.requestLog.flush();
    const asCaller = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: caller.token };
    const asAdmin = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: await t.login() };

    const tail = await cli(["logs", "tail", "--once"], asCaller);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout.trim().split("\n")).toEqual([expect.stringMatching(/404 {2}\/v1\/chat\/completions +\\x1b\[2J\\x9b8m\\ /)]);
    const keys = await cli(["keys", "list", "--all"], asAdmin);
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout).toContain("  \\x1b[2J\\x9b8m\\x0d\\x0  ");
    expect(keys.stdout).not.toMatch(/^2026-01-01/m);
    // --json holds the same text, escaped as JSON (C1 too, which JSON itself would leave raw).
    const json = await cli(["logs", "tail", "--once", "--json"], asCaller);
    expect((JSON.parse(json.stdout.trim()) as { model: string }).model).toBe(hostile);
    for (const run of [tail, keys, json]) expect(run.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it("usage, logs tail and logs export show a response-cache hit and what it saved", async () => {
    const fresh = await t.userWithRole("USER");
    await priceAutoRoute(t.client(await t.login()));
    const ask = () =>
      fetch(`${t.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${fresh.token}`, "content-type": "application/json", "x-switchboard-cache-ttl": "600" },
        body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "saved by the cache" }] }),
      });
    expect((await ask()).headers.get("x-switchboard-cache")).toBe("miss");
    expect((await ask()).headers.get("x-switchboard-cache")).toBe("hit");
    await t.app.deps.requestLog.flush();
    const asFresh = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: fresh.token };

    const json = await cli(["usage", "--json"], asFresh);
    expect(json.code, json.stderr).toBe(0);
    const { total } = JSON.parse(json.stdout) as { total: { requests: number; promptTokens: number; completionTokens: number; costUsd: number; cacheHits: number; cacheSavedUsd: number } };
    expect(total).toMatchObject({ requests: 2, cacheHits: 1 });
    // The hit saved what the miss cost: the same answer at the same prices.
    expect(total.cacheSavedUsd).toBeCloseTo(total.costUsd, 9);
    const table = await cli(["usage"], asFresh);
    expect(table.stdout).toMatch(/^MODEL\s.*\sCOST\s+CACHE HITS\s+SAVED$/m);
    // Two requests, one of them a hit; it saved what the other cost.
    const [, cost, saved] = /^TOTAL\s+2\s+\d+\s+\d+\s+(\$\S+)\s+1\s+(\$\S+)$/m.exec(table.stdout) ?? [];
    expect(cost).toMatch(/^\$0\.\d+$/);
    expect(saved).toBe(cost);
    const tail = await cli(["logs", "tail", "--once"], asFresh);
    expect(tail.stdout).toMatch(/ cache hit \(saved \$0\.\d+\)/);
    // The same two requests as CSV, newest (the hit) first; a malformed filter is the server's 400.
    const exported = await cli(["logs", "export"], asFresh);
    expect(exported.code, exported.stderr).toBe(0);
    const [header, ...rows] = exported.stdout.trim().split("\n").map((line) => line.split(","));
    expect(rows.map((r) => r[header!.indexOf("cacheHit")])).toEqual(["true", "false"]);
    // usage as CSV: the same sums as the table, a TOTAL row last.
    const usageCsv = await cli(["usage", "--csv"], asFresh);
    expect(usageCsv.code, usageCsv.stderr).toBe(0);
    const usageLines = usageCsv.stdout.trim().split("\n");
    expect(usageLines[0]).toBe("key,label,requests,promptTokens,completionTokens,costUsd,cacheHits,cacheSavedUsd");
    expect(usageLines.at(-1)).toBe(`TOTAL,,2,${total.promptTokens},${total.completionTokens},${total.costUsd},1,${total.cacheSavedUsd}`);
    const refused = await cli(["logs", "export", "--status", "teapot"], asFresh);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: 400: .*status/m);
  });

  it("logs export past the server's cap writes the newest rows, warns on stderr and exits 3; narrowed, it is whole", async () => {
    const owner = await t.userWithRole("USER");
    const asOwner = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: owner.token };
    const rows = await logRows(owner.id, EXPORT_CAP + 1);
    const cut = await cli(["logs", "export"], asOwner);
    expect(cut.code, cut.stderr).toBe(3);
    const [header, ...lines] = cut.stdout.trim().split("\n").map((line) => line.split(","));
    expect(lines.map((l) => l[header!.indexOf("requestId")])).toEqual(rows.slice(1).reverse().map((r) => r.requestId));
    expect(cut.stderr).toBe(`warning: the export holds the newest ${EXPORT_CAP} of more matching rows; narrow it with --from/--to\n`);
    const whole = await cli(["logs", "export", "--from", rows[1]!.createdAt.toISOString()], asOwner);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stderr).toBe("");
    expect(whole.stdout).toBe(cut.stdout);
  });

  it("logs export broken off by the server mid-way exits 1 saying its output is incomplete", async () => {
    const owner = await t.userWithRole("USER");
    const rows = await logRows(owner.id, 120);
    // The oldest row is one logs.list cannot answer (a cost of NaN): its page fails after the first was sent.
    await t.app.deps.db.prisma.$executeRaw`UPDATE "RequestLog" SET "costUsd" = 'NaN' WHERE "id" = ${rows[0]!.id}`;
    const broken = await cli(["logs", "export"], { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: owner.token });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^error: the download broke off before its end \(.*\): the output is incomplete$/m);
    expect(broken.stdout.split("\n").length).toBeGreaterThan(100);
  });

  it("logs export that arrives shorter than the server announced (an HTTP/1.0 hop ended it cleanly) exits 1 saying its output is incomplete", async () => {
    const owner = await t.userWithRole("USER");
    await logRows(owner.id, 120);
    const hop = await http10HopThatEndsEarly(t.url, 0.5);
    try {
      const short = await cli(["logs", "export"], { SWITCHBOARD_URL: hop.url, SWITCHBOARD_TOKEN: owner.token });
      expect(short.code).toBe(1);
      const written = short.stdout.split("\n").length - 2; // less the header line and the cut line
      expect(short.stderr).toMatch(new RegExp(`^error: the export holds ${written} of the 120 rows the server announced: the output is incomplete \\(`, "m"));
      // The same hop passing the whole body: nothing to say.
      hop.passWhole();
      const whole = await cli(["logs", "export"], { SWITCHBOARD_URL: hop.url, SWITCHBOARD_TOKEN: owner.token });
      expect(whole.code, whole.stderr).toBe(0);
      expect(whole.stdout.trim().split("\n")).toHaveLength(121);
    } finally {
      await hop.close();
    }
  });

  it("logs export into a reader that stops early (| head) ends quietly with exit 0", async () => {
    const owner = await t.userWithRole("USER");
    await logRows(owner.id, 120);
    // `true` closes the pipe at once: every write the export makes meets a reader that has gone.
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const bin = fileURLToPath(new URL("../../bin/switchboard.mjs", import.meta.url));
      const child = spawn("bash", ["--norc", "--noprofile", "-c", 'set -o pipefail; "$0" "$1" logs export | true', process.execPath, bin], {
        env: { PATH: process.env.PATH ?? "", SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: owner.token },
      });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stderr }));
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });

  it("bad usage exits 2; bad values come back from the server as 400", async () => {
    const env = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: user.token };
    expect((await cli(["keys", "create"], env)).code).toBe(2);
    expect((await cli(["keys", "revoke"], env)).code).toBe(2);
    expect((await cli(["keys", "update"], env)).code).toBe(2);
    expect((await cli(["logs", "follow"], env)).code).toBe(2);
    const negative = await cli(["keys", "create", "--name", "x", "--budget=-3"], env);
    expect(negative.code).toBe(1);
    expect(negative.stderr).toContain("HTTP 400");
    expect((await cli(["tag-budgets", "set", "team:x"], env)).code).toBe(2);
  });

  it("tag-budgets sets, lists and removes a tag's budget (SuperAdmin), which caps the tag's requests", async () => {
    const asRoot = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: await t.login() };
    // A price on the default route, so the tag's requests cost something.
    await priceAutoRoute(t.client(asRoot.SWITCHBOARD_TOKEN));
    const set = await cli(["tag-budgets", "set", "team:cli-capped", "--budget", "0.000001", "--budget-period", "day"], asRoot);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("Requests tagged team:cli-capped may spend $0.000001 a day");
    // A USER may not set one.
    const refused = await cli(["tag-budgets", "set", "team:other", "--budget", "5"], { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: user.token });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("FORBIDDEN");

    const tagged = () => chat(t, user.token, "capped", "team:cli-capped");
    expect((await tagged()).status).toBe(200);
    await expect.poll(async () => (await tagged()).status).toBe(429);
    await t.app.deps.requestLog.flush();
    const listed = await cli(["tag-budgets", "list"], asRoot);
    expect(listed.stdout).toMatch(/^team:cli-capped\s+\$0\.\d+ of \$0\.000001 a day\s+\d+$/m);

    // Kept to the keys carrying it: the user's own request naming it is refused.
    const kept = await cli(["tag-budgets", "set", "team:cli-capped", "--budget", "5", "--keys-only"], asRoot);
    expect(kept.stdout).toContain("only API keys carrying the tag may send it");
    expect((await tagged()).status).toBe(403);
    expect((await cli(["tag-budgets", "list"], asRoot)).stdout).toMatch(/^team:cli-capped\s.*keys only$/m);
    expect((await cli(["tag-budgets", "set", "team:cli-capped", "--budget", "5", "--keys-only", "--anyone"], asRoot)).code).toBe(2);

    expect((await cli(["tag-budgets", "remove", "team:cli-capped"], asRoot)).stdout).toContain("Removed the budget on team:cli-capped");
    expect((await tagged()).status).toBe(200);
    expect((await cli(["tag-budgets", "list"], asRoot)).stdout.trim()).toBe("No tag budgets.");
  });

  it("cache purge forgets the caller's kept answers, an ADMIN's everyone's; a USER's --all is refused; cache purges lists them", async () => {
    const asUser = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: user.token };
    const cachedChat = () =>
      fetch(`${t.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json", "x-switchboard-cache-ttl": "600" },
        body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "kept for the purge" }] }),
      });
    expect((await cachedChat()).headers.get("x-switchboard-cache")).toBe("miss");
    expect((await cachedChat()).headers.get("x-switchboard-cache")).toBe("hit");

    const own = await cli(["cache", "purge"], asUser);
    expect(own.code, own.stderr).toBe(0);
    expect(own.stdout).toMatch(/^Purged your cached answers \(kept before \d{4}-\d\d-\d\dT.*\) on every instance\.$/m);
    expect((await cachedChat()).headers.get("x-switchboard-cache")).toBe("miss");

    const refused = await cli(["cache", "purge", "--all"], asUser);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("FORBIDDEN");
    expect((await cli(["cache", "purge", "--all", "--user", "x"], asUser)).code).toBe(2);
    const asRoot = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: await t.login() };
    const everyone = await cli(["cache", "purge", "--all"], asRoot);
    expect(everyone.code, everyone.stderr).toBe(0);
    expect(everyone.stdout).toContain("Purged everyone's cached answers");

    // With an API key whose name spells a row of its own after a newline: it stays in its row.
    const forging = await t.client(asRoot.SWITCHBOARD_TOKEN).keys.create.mutate({ name: "ops\n2099-01-01 00:00:00  everyone's  by someone", scopes: ["chat"] });
    const withKey = await cli(["cache", "purge"], { SWITCHBOARD_URL: t.url, SWITCHBOARD_API_KEY: forging.key });
    expect(withKey.code, withKey.stderr).toBe(0);

    // The purges are on record, newest first (ADMIN); the refused one is not.
    const recorded = await cli(["cache", "purges"], asRoot);
    expect(recorded.code, recorded.stderr).toBe(0);
    const at = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`;
    const lines = recorded.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]!.slice(21)).toBe(`root@switchboard.test's  by root@switchboard.test with key "ops\\x0a2099-01-01 00:00:00  everyone's  by someone"`);
    expect(lines[1]).toMatch(new RegExp(`^${at}  everyone's  by root@switchboard\\.test$`));
    expect(lines[2]).toMatch(new RegExp(`^${at}  `));
    expect(lines[2]!.slice(21)).toBe(`${user.email}'s  by ${user.email}`);
    expect(JSON.parse((await cli(["cache", "purges", "--limit", "1", "--json"], asRoot)).stdout)).toMatchObject({ items: [{ everyone: false, via: "key" }], nextCursor: expect.any(String) });
    expect((await cli(["cache", "purges"], asUser)).stderr).toContain("FORBIDDEN");
    expect((await cli(["cache", "purges", "--limit", "0"], asRoot)).code).toBe(2);
  });
});
