/**
 * The compiled server (`npm run build` → apps/api/dist) as operators run it: plain `node`
 * on the output, configuration from the environment and a `.env` file in the working
 * directory, bad production settings refused at start, and the migration entry point.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./database.ts";
import { freeLoopbackPort } from "./ports.ts";

const apiDir = fileURLToPath(new URL("../", import.meta.url));
// A private output folder: other test files may build dist/ at the same time.
const outdir = join(apiDir, ".build-test", `compiled-${process.pid}`);
const main = join(outdir, "main.js");
const migrate = join(outdir, "migrate.js");
const baseEnv = { PATH: process.env.PATH ?? "" };

beforeAll(() => {
  const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/build.ts", "--outdir", outdir], {
    cwd: apiDir,
    encoding: "utf8",
    timeout: 120_000,
  });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
}, 120_000);

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

const run = (script: string, env: Record<string, string>, cwd = tmpdir()) =>
  spawnSync(process.execPath, [script], { cwd, env: { ...baseEnv, ...env }, encoding: "utf8", timeout: 60_000 });

describe("the compiled server", () => {
  it("imports nothing but Node built-ins and the api's production dependencies", async () => {
    const manifest = JSON.parse(await readFile(join(apiDir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const allowed = new Set([...Object.keys(manifest.dependencies), ...builtinModules]);
    const specifiers = new Set<string>();
    for (const file of (await readdir(outdir)).filter((f) => f.endsWith(".js"))) {
      const code = await readFile(join(outdir, file), "utf8");
      for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)) specifiers.add(m[1]!);
    }
    const bare = [...specifiers].filter((s) => !s.startsWith(".") && !s.startsWith("node:"));
    expect(bare.length).toBeGreaterThan(5);
    const packageOf = (s: string) => s.split("/").slice(0, s.startsWith("@") ? 2 : 1).join("/");
    expect(bare.filter((s) => !allowed.has(packageOf(s)))).toEqual([]);
    // Workspace packages are bundled, never imported: they are not published.
    expect(bare.filter((s) => s.startsWith("@switchboard/"))).toEqual([]);
  });

  it("reads .env from its working directory; the real environment wins", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "switchboard-dotenv-"));
    const [filePort, realPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
    await writeFile(
      join(cwd, ".env"),
      `# written by a test\nNODE_ENV=test\nPORT=${filePort}\nHOST=127.0.0.1\nDATA_DIR=${join(cwd, "data")}\nLOG_LEVEL=silent\n`,
    );
    const child = spawn(process.execPath, [main], { cwd, env: { ...baseEnv, PORT: String(realPort) }, stdio: "ignore" });
    try {
      let health: { environment?: string } | undefined;
      for (let i = 0; i < 600 && !health && child.exitCode === null; i++) {
        health = await fetch(`http://127.0.0.1:${realPort}/health`).then((r) => r.json() as Promise<{ environment: string }>, () => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health?.environment).toBe("test");
      await expect(fetch(`http://127.0.0.1:${filePort}/health`)).rejects.toThrow();
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it.each([
    [{ NODE_ENV: "production", DATABASE_URL: "postgresql://127.0.0.1:1/x", REDIS_URL: "redis://127.0.0.1:1" }, /JWT_SECRET is required in cluster mode/],
    [{ NODE_ENV: "production", DATABASE_URL: "postgresql://127.0.0.1:1/x", JWT_SECRET: "x".repeat(40) }, /REDIS_URL is required in production/],
    [{ NODE_ENV: "production", REDIS_URL: "redis://127.0.0.1:1", JWT_SECRET: "x".repeat(40) }, /DATABASE_URL is required in production/],
  ])("refuses to start with %o: exit 1 and one clear line", (env, pattern) => {
    const result = run(main, env);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });

  it("a bad value in .env stops it the same way", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "switchboard-dotenv-"));
    try {
      await writeFile(join(cwd, ".env"), "PORT=seventy\n");
      const result = run(main, {}, cwd);
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toMatch(/^Invalid configuration: PORT/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it("dist/migrate.js applies the migrations, then finds the database up to date", async () => {
    const db = await createTestDatabase();
    try {
      const first = run(migrate, { DATABASE_URL: db.url });
      expect(first.stderr).toBe("");
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(/\d+ migration\(s\) applied \(PostgreSQL/);
      const second = run(migrate, { DATABASE_URL: db.url });
      expect(second.status).toBe(0);
      expect(second.stdout).toMatch(/Database is up to date/);
    } finally {
      await db.drop();
    }
  });
});
