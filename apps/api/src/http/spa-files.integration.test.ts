/**
 * What ADMIN_DIST_DIR serves, against a real server and a dist directory holding what a
 * careless deploy might leave in it: `.env`, `.git/config`, and symlinks out of it (to
 * /etc/passwd, to /etc). None of it is served; the build's own files, and a symlink between
 * them, are. Paths go out byte for byte (raw-http.ts), as a scanner sends them.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { rawRequest } from "../../test/raw-http.ts";

const SECRET = "OPENAI_API_KEY=sk-never-served";

let t: TestApp;
let dist: string;
let passwd: string;

beforeAll(async () => {
  passwd = await readFile("/etc/passwd", "utf8");
  dist = await mkdtemp(join(tmpdir(), "switchboard-dist-"));
  await mkdir(join(dist, "assets"));
  await mkdir(join(dist, ".git"));
  await writeFile(join(dist, "index.html"), "<!doctype html><html><head><title>admin</title></head><body></body></html>");
  await writeFile(join(dist, "assets", "app.js"), "console.log('app')");
  await writeFile(join(dist, "assets", "app.js.map"), "{\"version\":3}");
  await writeFile(join(dist, ".env"), SECRET);
  await writeFile(join(dist, "assets", ".env.local"), SECRET);
  await writeFile(join(dist, ".git", "config"), `[remote "origin"]\n\turl = https://token:${SECRET}@example.com/repo.git\n`);
  await symlink("/etc/passwd", join(dist, "passwd.txt"));
  await symlink("/etc", join(dist, "etc"));
  await symlink(join(dist, "assets", "app.js"), join(dist, "latest.js"));
  t = await startTestApp({ mode: "embedded", env: { ADMIN_DIST_DIR: dist } });
});

afterAll(async () => {
  await t?.close();
  await rm(dist, { recursive: true, force: true });
});

const leaked = (text: string) => text.includes("sk-never-served") || text.includes(passwd.split("\n")[0]!);

describe("files ADMIN_DIST_DIR does not serve", () => {
  it.each(["/.env", "/.git/config", "/.git/", "/assets/.env.local", "/%2eenv", "/%2Egit/config", "/assets/%2eenv.local"])("a dotfile or a file under a dot directory, %s: 404", async (path) => {
    for (const method of ["GET", "HEAD"]) {
      const res = await rawRequest(t.url, { method, path });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(leaked(res.text)).toBe(false);
    }
    // Nor a browser's navigation: a dot path is no admin route, and a 200 page there would
    // have every scanner report the file as exposed.
    const navigation = await rawRequest(t.url, { path, headers: { accept: "text/html" } });
    expect(navigation.status).toBe(404);
    expect(JSON.parse(navigation.text)).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
    expect(leaked(navigation.text)).toBe(false);
  });

  it.each(["/passwd.txt", "/etc/passwd"])("a symlink leading out of the directory, %s: 404", async (path) => {
    const res = await rawRequest(t.url, { path });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
    expect(leaked(res.text)).toBe(false);
    const navigation = await rawRequest(t.url, { path, headers: { accept: "text/html" } });
    expect(navigation.status).toBe(404);
    expect(leaked(navigation.text)).toBe(false);
  });
});

describe("files it serves", () => {
  it("the build's own files, and a symlink from one to another inside it", async () => {
    for (const path of ["/assets/app.js", "/latest.js"]) {
      const res = await rawRequest(t.url, { path });
      expect(res.status, path).toBe(200);
      expect(res.text).toBe("console.log('app')");
    }
    const page = await rawRequest(t.url, { path: "/", headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.text).toContain("<title>admin</title>");
  });

  it("the page itself at a client-side route a browser reloads, a dot inside a segment included", async () => {
    for (const path of ["/providers", "/logs/req_1.2", "/users?q=.env"]) {
      const page = await rawRequest(t.url, { path, headers: { accept: "text/html" } });
      expect(page.status, path).toBe(200);
      expect(page.text).toContain("<title>admin</title>");
    }
  });

  it("HEAD of a client-side route answers as its GET does, without the body (an uptime monitor's check of the admin)", async () => {
    for (const path of ["/", "/providers", "/logs/req_1.2"]) {
      const get = await rawRequest(t.url, { path, headers: { accept: "text/html" } });
      const head = await rawRequest(t.url, { method: "HEAD", path, headers: { accept: "text/html" } });
      expect(head.status, path).toBe(200);
      expect(head.headers["content-type"], path).toBe(get.headers["content-type"]);
      expect(head.headers["content-length"], path).toBe(get.headers["content-length"]);
      expect(head.text, path).toBe("");
    }
    // Still no page where GET has none: a dotfile, a data prefix, a program that wants no HTML.
    for (const [path, accept] of [["/.env", "text/html"], ["/api/nope", "text/html"], ["/providers", "application/json"]] as const) {
      expect((await rawRequest(t.url, { method: "HEAD", path, headers: { accept } })).status, path).toBe(404);
    }
  });
});

describe("paths and methods with no file behind them", () => {
  const notFound = { error: { code: "NOT_FOUND", message: expect.any(String) } };

  it("a path with a repeated or dot segment is answered as any path without a file: the page for a browser, a JSON 404 otherwise, never a 403 or the file", async () => {
    // @fastify/static refuses such paths with a 403 "Forbidden", which reads as a permissions problem.
    for (const path of ["//providers", "/logs//req_1", "//"]) {
      const page = await rawRequest(t.url, { path, headers: { accept: "text/html" } });
      expect(page.status, path).toBe(200);
      expect(page.text, path).toContain("<title>admin</title>");
      const head = await rawRequest(t.url, { method: "HEAD", path, headers: { accept: "text/html" } });
      expect(head.status, `HEAD ${path}`).toBe(200);
      const program = await rawRequest(t.url, { path });
      expect(program.status, path).toBe(404);
      expect(JSON.parse(program.text), path).toEqual(notFound);
    }
    for (const path of ["//assets/app.js", "/assets//app.js", "/assets/./app.js", "/assets/x/../app.js"]) {
      const res = await rawRequest(t.url, { path });
      expect(res.status, path).toBe(404);
      expect(res.text, path).not.toContain("console.log");
    }
    // Nor what a symlink out of the build leads to.
    for (const path of ["//etc/passwd", "//passwd.txt", "/etc//passwd"]) {
      for (const accept of ["text/html", "*/*"]) expect(leaked((await rawRequest(t.url, { path, headers: { accept } })).text), path).toBe(false);
    }
    // Still no page at a data path or a dotfile, however many slashes lead to it.
    for (const path of ["//v1/models", "//api/health", "///trpc/health.check", "//.env", "//.git/config"]) {
      const navigation = await rawRequest(t.url, { path, headers: { accept: "text/html" } });
      expect(navigation.status, path).toBe(404);
      expect(JSON.parse(navigation.text), path).toEqual(notFound);
      expect(leaked(navigation.text)).toBe(false);
    }
  });

  it("a method other than GET and HEAD on one of the build's files is a 405 naming them, as on the API's routes; where no file is, a 404", async () => {
    for (const path of ["/assets/app.js", "/latest.js", "/", "/index.html"]) {
      for (const method of ["OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE"]) {
        const res = await rawRequest(t.url, { method, path, headers: { accept: "text/html" } });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers["allow"], `${method} ${path}`).toBe("GET, HEAD");
        expect(JSON.parse(res.text)).toEqual({ error: { code: "METHOD_NOT_ALLOWED", message: `${method} is not allowed here; use GET, HEAD` } });
      }
    }
    // A client-side route or a missing file is no resource of the server's: unknown, as any path.
    for (const path of ["/providers", "/logs/req_1.2", "/assets/missing.js", "//assets/app.js", "/etc/passwd", "/assets/app.js.map"]) {
      const res = await rawRequest(t.url, { method: "POST", path, headers: { accept: "text/html" } });
      expect(res.status, path).toBe(404);
      expect(res.headers["allow"], path).toBeUndefined();
      expect(JSON.parse(res.text), path).toEqual(notFound);
    }
    // A built source map is no file of the server's either: GET does not serve it.
    expect((await rawRequest(t.url, { path: "/assets/app.js.map" })).status).toBe(404);
  });

  it("the data paths and dotfiles keep their own answers to other methods", async () => {
    const answers = async (method: string, path: string) => {
      const res = await rawRequest(t.url, { method, path });
      return [res.status, res.headers["allow"] ?? null, (JSON.parse(res.text) as { error: { code: string } }).error.code];
    };
    expect(await answers("POST", "/api/nope")).toEqual([404, null, "NOT_FOUND"]);
    expect(await answers("DELETE", "/health")).toEqual([405, "GET, HEAD", "METHOD_NOT_ALLOWED"]);
    expect(await answers("OPTIONS", "/trpc/health.check")).toEqual([405, "GET, POST", "METHOD_NOT_ALLOWED"]);
    expect(await answers("PUT", "/v1/nope")).toEqual([404, null, "unknown_url"]);
    expect(await answers("OPTIONS", "/v1/chat/completions")).toEqual([405, "POST", "method_not_allowed"]);
    expect(await answers("POST", "/auth/nope")).toEqual([404, null, "NOT_FOUND"]);
    for (const path of ["/.env", "/.git/config", "/assets/.env.local"]) expect(await answers("POST", path)).toEqual([404, null, "NOT_FOUND"]);
  });
});

describe("with CORS_ORIGINS", () => {
  const ORIGIN = "https://admin.example";
  let cors: TestApp;
  beforeAll(async () => {
    cors = await startTestApp({ mode: "embedded", env: { ADMIN_DIST_DIR: dist, CORS_ORIGINS: ORIGIN } });
  });
  afterAll(async () => {
    await cors?.close();
  });

  it("a browser's preflight of a file or a page is still CORS's to answer; other methods there are a 405", async () => {
    for (const path of ["/assets/app.js", "/providers", "/trpc/health.check"]) {
      const preflight = await rawRequest(cors.url, { method: "OPTIONS", path, headers: { origin: ORIGIN, "access-control-request-method": "GET" } });
      expect(preflight.status, path).toBe(204);
      expect(preflight.headers["access-control-allow-origin"], path).toBe(ORIGIN);
    }
    const post = await rawRequest(cors.url, { method: "POST", path: "/assets/app.js", headers: { origin: ORIGIN } });
    expect(post.status).toBe(405);
    expect(post.headers["allow"]).toBe("GET, HEAD");
    expect(post.headers["access-control-allow-origin"]).toBe(ORIGIN);
  });
});
