// Shared setup for the admin browser tests: a fresh admin build, a real API server in a
// child process (embedded database in a temp DATA_DIR), and Debian's Chromium.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { spawnApi } from "../../api/test/api-process.ts";

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
  // The schema package is bundled into the build too (its YAML reader and writer included).
  const inputs = [...["src", "public", "index.html", "vite.config.ts", "package.json"].map((p) => join(ADMIN_DIR, p)), join(REPO_ROOT, "packages/schema/src")].filter((p) => existsSync(p));
  const newestSource = Math.max(...inputs.map(newestMtime));
  if (existsSync(index) && statSync(index).mtimeMs >= newestSource) return;
  const result = spawnSync("npx", ["vite", "build"], { cwd: ADMIN_DIR, encoding: "utf8", env: process.env });
  if (result.status !== 0) {
    throw new Error(`admin build failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

export interface ApiServer {
  baseUrl: string;
  email: string;
  password: string;
  /** Everything the server wrote to stderr/stdout so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface StartApiOptions {
  /** Extra settings for the server, e.g. provider base URLs pointing at local fake upstreams. */
  env?: Record<string, string>;
  /** Start on this DATA_DIR (a restart: the embedded database kept) instead of a fresh one. */
  dataDir?: string;
}

/**
 * Starts the API as a child process (the same helper the api's multi-instance tests use) on
 * the embedded default with a bootstrap SuperAdmin, serving this admin build, and waits for
 * GET /health to answer 200.
 */
export async function startApi(opts: StartApiOptions = {}): Promise<ApiServer> {
  const email = "admin@e2e.test";
  // A restart on the same DATA_DIR passes the first start's password: the account exists already.
  const password = opts.env?.SUPERADMIN_PASSWORD ?? `e2e-${randomBytes(18).toString("base64url")}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SUPERADMIN_EMAIL: email,
    SUPERADMIN_PASSWORD: password,
    LOG_LEVEL: "warn",
    NODE_ENV: "test",
    ADMIN_DIST_DIR: ADMIN_DIST,
    ...opts.env,
  };
  // Always the embedded default: no external database, Redis or fixed secret from the shell.
  for (const key of ["DATABASE_URL", "REDIS_URL", "JWT_SECRET", "CORS_ORIGINS"]) delete env[key];
  const api = await spawnApi({ env, readyPath: "/health", dataDirPrefix: "switchboard-e2e-", dataDir: opts.dataDir });
  return { baseUrl: api.url, email, password, output: api.output, stop: api.stop };
}

/** Calls a tRPC procedure over plain HTTP, as a program would; throws unless it answers 200. */
export async function callProcedure<T>(api: ApiServer, path: string, input: unknown, token?: string): Promise<T> {
  const res = await fetch(`${api.baseUrl}/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(input),
  });
  const body = (await res.json()) as { result?: { data: T } };
  if (res.status !== 200 || !body.result) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(body)}`);
  return body.result.data;
}

/** An access token for API calls made outside the browser. */
export async function apiToken(api: ApiServer, email: string, password: string): Promise<string> {
  return (await callProcedure<{ accessToken: string }>(api, "auth.login", { email, password })).accessToken;
}

/** Prices the default route ("auto") so calls through it cost something, as an operator would. */
export async function priceAutoModel(api: ApiServer, token: string): Promise<void> {
  const models = await callProcedure<{ items: Array<{ name: string; targets: Array<{ provider: string; upstreamModel: string }> }> }>(api, "models.list", {}, token);
  const auto = models.items.find((m) => m.name === "auto")!;
  await callProcedure(api, "models.upsert", {
    name: "auto",
    targets: auto.targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel })),
    inputPricePerMTok: 2500,
    outputPricePerMTok: 10000,
  }, token);
}

/** Tables scroll inside their wrapper instead of clipping; this lists any wider than its box. */
export async function overflowingTables(page: Page): Promise<Array<{ scroll: number; client: number }>> {
  return page.$$eval(".table-wrap", (els) => els.map((e) => ({ scroll: e.scrollWidth, client: e.clientWidth })).filter((m) => m.scroll > m.client + 1));
}

/** `extraArgs`: more Chromium switches, e.g. --host-resolver-rules to reach the API by a non-loopback name. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
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

/**
 * Opens a page in `context`, signs in through the login form and waits for the dashboard.
 * `errors` collects uncaught page errors from the very first load on.
 */
export async function signIn(context: BrowserContext, email: string, password: string, errors?: string[]): Promise<Page> {
  const page = await context.newPage();
  if (errors) page.on("pageerror", (error) => errors.push(error.message));
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
  return page;
}

export async function screenshotPath(name: string): Promise<string> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  return join(SCREENSHOTS_DIR, name);
}
