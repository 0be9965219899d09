/**
 * Security headers on every answer (the SPA page, the API, refusals), HSTS only over TLS, no
 * source map served even when one is in the build, and DATA_DIR readable by its owner only.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";

let t: TestApp;
let dist: string;

beforeAll(async () => {
  dist = await mkdtemp(join(tmpdir(), "switchboard-dist-"));
  await mkdir(join(dist, "assets"));
  await writeFile(join(dist, "index.html"), "<!doctype html><html><head><title>admin</title></head><body></body></html>");
  await writeFile(join(dist, "assets", "index.js"), "console.log(1)");
  await writeFile(join(dist, "assets", "index.js.map"), '{"sources":["secret-source.tsx"]}');
  t = await startTestApp({ mode: "embedded", env: { ADMIN_DIST_DIR: dist, TRUST_PROXY: "127.0.0.1" } });
});

afterAll(async () => {
  await t?.close();
  await rm(dist, { recursive: true, force: true });
});

describe("security headers", () => {
  it("the SPA, the API and refusals carry CSP (no framing), nosniff and a referrer policy", async () => {
    for (const [path, init] of [
      ["/", { headers: { accept: "text/html" } }],
      ["/health", {}],
      ["/trpc/users.list", {}],
      ["/v1/models", {}],
      // URLs the router refuses before any hook runs: undecodable, and over the parameter limit.
      ["/trpc/%ZZ", {}],
      [`/trpc/${"a".repeat(5_001)}`, {}],
    ] as const) {
      const res = await fetch(`${t.url}${path}`, init);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(res.headers.get("strict-transport-security"), path).toBeNull();
    }
  });

  it("HSTS only when the request came over TLS (here: at the trusted proxy)", async () => {
    const res = await fetch(`${t.url}/health`, { headers: { "x-forwarded-proto": "https" } });
    expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
  });

  it("never serves a source map, even one left in the build", async () => {
    expect((await fetch(`${t.url}/assets/index.js`)).status).toBe(200);
    const map = await fetch(`${t.url}/assets/index.js.map`);
    expect(map.status).toBe(404);
    expect(await map.text()).not.toContain("secret-source");
  });

  it("DATA_DIR is 0700 and everything in it 0600 (directories 0700)", async () => {
    const dir = t.app.deps.env.DATA_DIR;
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const walk = async (d: string): Promise<string[]> =>
      (await Promise.all((await readdir(d, { withFileTypes: true })).map(async (e) => (e.isDirectory() ? [join(d, e.name), ...(await walk(join(d, e.name)))] : [join(d, e.name)])))).flat();
    const entries = await walk(dir);
    expect(entries.length).toBeGreaterThan(0);
    for (const path of entries) {
      const s = await stat(path);
      expect(s.mode & 0o777, path).toBe(s.isDirectory() ? 0o700 : 0o600);
    }
  });
});
