/**
 * The `switchboard` command, spawned as a real process against a real server (cluster mode:
 * PostgreSQL + Redis), the way an on-call SuperAdmin would run it.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/run-cli.ts";
import { TEST_SUPERADMIN, startTestApp, type TestApp } from "../../../../apps/api/test/app.ts";

const cli = runCli;

let t: TestApp;
let root: string;
let adminToken: string;

beforeAll(async () => {
  t = await startTestApp({ mode: "cluster" });
  root = await t.login();
  adminToken = (await t.userWithRole("ADMIN")).token;
});
afterAll(async () => t?.close());

describe("switchboard emergency (CLI)", () => {
  const asRoot = () => ({ SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: root });

  it("status needs no sign-in and says the fleet is serving", async () => {
    const run = await cli(["emergency", "status", "--url", t.url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^NOT FROZEN/);
  });

  it("bad usage exits 2 with help; bad input from the server exits 1 with the field's message", async () => {
    const noReason = await cli(["emergency", "freeze"], { env: asRoot() });
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("freeze needs --reason");
    expect((await cli(["emergency", "freeze", "--reason", "x y z", "--expires-in-sec", "soon"], { env: asRoot() })).code).toBe(2);
    expect((await cli(["emergency", "explode"], { env: asRoot() })).code).toBe(2);
    expect((await cli(["--help"])).stdout).toContain("Usage: switchboard emergency");

    const badScope = await cli(["emergency", "freeze", "--reason", "valid reason", "--scope", "everything"], { env: asRoot() });
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toMatch(/BAD_REQUEST, HTTP 400/);
    expect(badScope.stderr).toMatch(/--scope: Unknown scope/);
    const shortReason = await cli(["emergency", "freeze", "--reason", "no"], { env: asRoot() });
    expect(shortReason.code).toBe(1);
    expect(shortReason.stderr).toMatch(/--reason: The reason must be at least 3 characters/);
  });

  it("refuses a caller who is not a SuperAdmin", async () => {
    const run = await cli(["emergency", "freeze", "--reason", "not allowed"], { env: { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: adminToken } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/FORBIDDEN, HTTP 403/);
    expect(t.app.deps.emergency.status().active).toBe(false);
  });

  it("freezes with a token from SWITCHBOARD_TOKEN and reports the acknowledgements", async () => {
    const run = await cli(["emergency", "freeze", "--reason", "costs are running away", "--scope", "global", "--expires-in-sec", "3600"], { env: asRoot() });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Frozen (global): costs are running away");
    expect(run.stdout).toContain("Acknowledged by 1 of 1 live instance(s).");
    expect(t.app.deps.emergency.status()).toMatchObject({ active: true, reason: "costs are running away" });

    const status = await cli(["emergency", "status"], { env: { SWITCHBOARD_URL: t.url } });
    expect(status.stdout).toMatch(/^FROZEN \(global\)/);
    expect(status.stdout).toContain(`by:       ${TEST_SUPERADMIN.email}`);
    const json = await cli(["emergency", "status", "--json"], { env: { SWITCHBOARD_URL: t.url } });
    expect(JSON.parse(json.stdout)).toMatchObject({ active: true, scope: "global", reason: "costs are running away" });
  });

  it("asks for email and password when there is no token; a wrong password exits 1", async () => {
    const wrong = await cli(["emergency", "unfreeze"], { env: { SWITCHBOARD_URL: t.url }, stdin: `${TEST_SUPERADMIN.email}\nnot-the-password\n` });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("Email: ");
    expect(wrong.stderr).toMatch(/Invalid email or password/);
    expect(t.app.deps.emergency.status().active).toBe(true);

    const run = await cli(["emergency", "unfreeze", "--reason", "budget raised"], {
      env: { SWITCHBOARD_URL: t.url },
      stdin: `${TEST_SUPERADMIN.email}\n${TEST_SUPERADMIN.password}\n`,
    });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain(TEST_SUPERADMIN.password);
    expect(run.stdout).toContain("Unfrozen: Switchboard is serving again.");
    expect(t.app.deps.emergency.status().active).toBe(false);

    const again = await cli(["emergency", "unfreeze"], { env: asRoot() });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("Was not frozen; nothing changed.");
  });

  it("an address that is no server's (not http, a user name and password, a query) is bad usage, and no password is printed", async () => {
    // WHATWG URL (and so fetch) finds a user name and password without a literal "//" too.
    const spellings = ["http:/ops:hunter2-secret@127.0.0.1:9", "http:ops:hunter2-secret@127.0.0.1:9", "http:\\\\ops:hunter2-secret@127.0.0.1:9"];
    for (const url of ["notaurl", "ftp://127.0.0.1:9", "http://ops:hunter2-secret@127.0.0.1:9", ...spellings, "http://ops:hunter2-secret@", `${t.url}/?tenant=1`]) {
      const run = await cli(["emergency", "freeze", "--reason", "valid reason", "--url", url], { env: { SWITCHBOARD_TOKEN: root } });
      expect(run.code, url).toBe(2);
      expect(run.stderr, url).toMatch(/^error: --url \(or \$SWITCHBOARD_URL\) /);
      expect(run.stderr, url).not.toContain("hunter2-secret");
      if (spellings.includes(url)) expect(run.stderr, url).toContain('got "http://***@127.0.0.1:9/"');
    }
    const fromEnv = await cli(["emergency", "status"], { env: { SWITCHBOARD_URL: "http://ops:hunter2-secret@127.0.0.1:9" } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('got "http://***@127.0.0.1:9/"');
    expect(fromEnv.stderr).not.toContain("hunter2-secret");
    expect(t.app.deps.emergency.status().active).toBe(false);
  });

  it("gives up on a server that takes the connection and then says nothing, or stops part-way, after SWITCHBOARD_TIMEOUT_SEC", async () => {
    // A hung server or a port-forward to a dead pod: fetch alone waited five minutes.
    const sockets = new Set<Socket>();
    const serverSaying = (head: string) =>
      createTcpServer((socket) => {
        sockets.add(socket);
        socket.on("error", () => {}); // the CLI leaving resets the connection
        socket.write(head);
      });
    const silent = serverSaying("");
    // Starts an answer and never finishes it.
    const partWay = serverSaying('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n2\r\n[{\r\n');
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => partWay.listen(0, "127.0.0.1", resolve));
    try {
      for (const server of [silent, partWay]) {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const started = Date.now();
        const run = await cli(["emergency", "freeze", "--reason", "valid reason"], { env: { SWITCHBOARD_URL: url, SWITCHBOARD_TOKEN: root, SWITCHBOARD_TIMEOUT_SEC: "1" } });
        expect(run.code, url).toBe(1);
        expect(run.stderr.trim()).toBe(`error: cannot reach Switchboard at ${url}: the server sent nothing for 1 s (set $SWITCHBOARD_TIMEOUT_SEC to wait longer)`);
        expect(Date.now() - started).toBeLessThan(15_000);
      }
      const badSetting = await cli(["emergency", "status"], { env: { SWITCHBOARD_URL: t.url, SWITCHBOARD_TIMEOUT_SEC: "soon" } });
      expect(badSetting.code).toBe(2);
      expect(badSetting.stderr).toContain('$SWITCHBOARD_TIMEOUT_SEC must be a number of seconds above 0 and at most 86400, got "soon"');
    } finally {
      for (const socket of sockets) socket.destroy();
      await Promise.all([silent, partWay].map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });

  it("a web page answering 200 at --url is said to be something other than Switchboard, not an unreachable server", async () => {
    // Some site's page (or a plain-text "OK"): the address answers, so it was reached.
    const site = createHttpServer((request, response) =>
      request.url?.includes("/trpc/") && request.url.includes("emergency.status")
        ? response.writeHead(200, { "content-type": "text/plain" }).end("OK")
        : response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!doctype html><html><body>Welcome</body></html>"),
    );
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    try {
      const page = await cli(["keys", "list", "--url", url], { env: { SWITCHBOARD_TOKEN: root } });
      expect(page.code).toBe(1);
      expect(page.stderr.trim()).toBe(`error: ${url} answered, but it is not Switchboard: HTTP 200 came back as text/html, not Switchboard's JSON (check --url or $SWITCHBOARD_URL)`);

      const plain = await cli(["emergency", "status", "--url", url]);
      expect(plain.code).toBe(1);
      expect(plain.stderr.trim()).toBe(`error: ${url} answered, but it is not Switchboard: HTTP 200 came back as text/plain, not Switchboard's JSON (check --url or $SWITCHBOARD_URL)`);

      // A CSV download is not written out as the page either.
      const csv = await cli(["usage", "--csv", "--url", url], { env: { SWITCHBOARD_TOKEN: root } });
      expect(csv.code).toBe(1);
      expect(csv.stdout).toBe("");
      expect(csv.stderr).toContain(`error: ${url} answered, but it is not Switchboard: HTTP 200 came back as text/html`);
      for (const run of [page, plain, csv]) expect(run.stderr).not.toMatch(/cannot reach|Unexpected token/);
    } finally {
      await new Promise((resolve) => site.close(resolve));
    }
  });

  it("says so when the server cannot be reached", async () => {
    const run = await cli(["emergency", "status", "--url", "http://127.0.0.1:9"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot reach Switchboard at http:\/\/127\.0\.0\.1:9/);
  });
});
