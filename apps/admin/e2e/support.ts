// Shared setup for the admin browser tests: a fresh admin build, a real API server in a
// child process (embedded database in a temp DATA_DIR), and Debian's Chromium.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext } from "playwright-core";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const ADMIN_DIR = join(REPO_ROOT, "apps/admin");
export const ADMIN_DIST = join(ADMIN_DIR, "dist");
export const SCREENSHOTS_DIR = join(REPO_ROOT, "docs/screenshots");

const CHROMIUM_PATH = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];
const HEALTH_DEADLINE_MS = 60_000;

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Builds the SPA when dist is missing or older than any of its sources. */
export function ensureAdminBuild(): void {
  const index = join(ADMIN_DIST, "index.html");
  const inputs = ["src", "public", "index.html", "vite.config.ts", "package.json"]
    .map((p) => join(ADMIN_DIR, p))
    .filter((p) => existsSync(p));
  const newestSource = Math.max(...inputs.map(newestMtime));
  if (existsSync(index) && statSync(index).mtimeMs >= newestSource) return;
  const result = spawnSync("npx", ["vite", "build"], { cwd: ADMIN_DIR, encoding: "utf8", env: process.env });
  if (result.status !== 0) {
    throw new Error(`admin build failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

export interface ApiServer {
  baseUrl: string;
  email: string;
  password: string;
  /** Everything the server wrote to stderr/stdout so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export interface StartApiOptions {
  /** Extra settings for the server, e.g. provider base URLs pointing at local fake upstreams. */
  env?: Record<string, string>;
}

/**
 * Starts `node --import tsx apps/api/src/main.ts` on a free loopback port with a fresh
 * embedded data dir and a bootstrap SuperAdmin, and waits for GET /health to answer 200.
 */
export async function startApi(opts: StartApiOptions = {}): Promise<ApiServer> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-e2e-"));
  const email = "admin@e2e.test";
  const password = `e2e-${randomBytes(18).toString("base64url")}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    SUPERADMIN_EMAIL: email,
    SUPERADMIN_PASSWORD: password,
    LOG_LEVEL: "warn",
    NODE_ENV: "test",
    ADMIN_DIST_DIR: ADMIN_DIST,
    ...opts.env,
  };
  // Always the embedded default: no external database, Redis or fixed secret from the shell.
  for (const key of ["DATABASE_URL", "REDIS_URL", "JWT_SECRET", "CORS_ORIGINS"]) delete env[key];

  const child = spawn(process.execPath, ["--import", "tsx", "apps/api/src/main.ts"], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if (!(await waitForExit(child, 10_000))) {
        child.kill("SIGKILL");
        await waitForExit(child, 5_000);
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + HEALTH_DEADLINE_MS;
  let lastProblem = "no answer yet";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`API server exited (code ${child.exitCode}, signal ${child.signalCode}) before it was healthy.\n--- server output ---\n${output}`);
    }
    try {
      const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return { baseUrl, email, password, output: () => output, stop };
      lastProblem = `GET /health answered ${response.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`API server not healthy after ${HEALTH_DEADLINE_MS / 1000} s (${lastProblem}).\n--- server output ---\n${output}`);
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** A clean browser profile with a desktop viewport and stable locale/time zone for screenshots. */
export async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport: { width: 1360, height: 820 },
    locale: "en-US",
    timezoneId: "UTC",
    colorScheme: "light",
  });
}

export async function screenshotPath(name: string): Promise<string> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  return join(SCREENSHOTS_DIR, name);
}
