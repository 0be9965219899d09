/**
 * What every benchmark here shares: a closed-loop load generator, percentiles, a progress
 * line on stderr, spawning a helper process that prints its URL(s), and signing in.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { CLUSTER_JWT_SECRET, CLUSTER_SUPERADMIN, spawnApi, startApiProcess } from "../test/api-process.ts";
import { createTestDatabase } from "../test/database.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "../test/redis.ts";

export type Call = () => Promise<void>;

/** Rewrites one status line in place (stderr, so stdout stays a clean report). */
export const progress = (line: string) => process.stderr.write(`\r\x1b[2K${line}`);

/** A call that POSTs JSON and fails loudly on anything but 200. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Call {
  const payload = JSON.stringify(body);
  return async () => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: payload });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
  };
}

/**
 * Runs `total` calls with `concurrency` workers, each starting its next call as soon as the
 * previous one ends. Returns the latencies (ms, sorted) and the wall time (s).
 */
export async function runLoad(
  name: string,
  call: Call,
  opts: { total: number; concurrency: number; progressEvery?: number },
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const every = opts.progressEvery ?? 100;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < opts.total) {
      next++;
      const t0 = performance.now();
      await call();
      latencies.push(performance.now() - t0);
      if (latencies.length % every === 0) progress(`[bench] ${name.padEnd(18)} c=${opts.concurrency} ${latencies.length}/${opts.total}`);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}

/** The p-th percentile of sorted values (nearest rank). */
export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/**
 * Starts `node [...nodeArgs] --import tsx <script> [...args]` and waits for the first line it prints (its
 * URL, or a JSON map of URLs). Closing its stdin stops it.
 */
export async function spawnHelper(
  script: URL,
  args: string[] = [],
  opts: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<{ line: string; pid: number; stop(): void }> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", script.pathname, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...opts.env },
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  return { line, pid: child.pid!, stop: () => child.stdin!.end() };
}

/** Signs in as the cluster SuperAdmin and returns the Authorization header. */
export async function superAdminAuth(apiUrl: string): Promise<{ authorization: string }> {
  const res = await fetch(`${apiUrl}/trpc/auth.login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(CLUSTER_SUPERADMIN),
  });
  const token = ((await res.json()) as { result: { data: { accessToken: string } } }).result.data.accessToken;
  return { authorization: `Bearer ${token}` };
}

const API_DIR = fileURLToPath(new URL("../", import.meta.url));
const SOURCE_DIRS = [join(API_DIR, "src"), join(API_DIR, "../../packages/schema/src")];

const newestMtime = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }, 0);

/**
 * Builds apps/api/dist (`npm run build -w @switchboard/api`) when it is missing or older
 * than a source file, so a benchmark of the compiled build never measures stale code.
 * Returns whether it built.
 */
export function ensureBuilt(): boolean {
  const built = (() => {
    try {
      return statSync(join(API_DIR, "dist/main.js")).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (built > Math.max(...SOURCE_DIRS.map(newestMtime))) return false;
  progress("[bench] building apps/api/dist (npm run build -w @switchboard/api)");
  execFileSync(process.execPath, ["--import", "tsx", "scripts/build.ts"], { cwd: API_DIR, stdio: ["ignore", "ignore", "inherit"] });
  return true;
}

/** What every benchmarked Switchboard runs with: production mode, limits on but high. */
const BENCH_ENV = {
  NODE_ENV: "production",
  LOG_LEVEL: "warn",
  CHAT_RATE_LIMIT_PER_MIN: "100000000",
  CONSENSUS_RATE_LIMIT_PER_MIN: "100000000",
  // Load generators open up to 64 streams at once for one signed-in user.
  STREAMS_PER_USER: "256",
  // Runs longer than the default 15 minutes keep one sign-in.
  ACCESS_TOKEN_TTL_SEC: "86400",
};

export interface BenchApi {
  url: string;
  pid: number;
  auth: { authorization: string };
  stop(): Promise<void>;
}

/**
 * A Switchboard process as production runs it (PostgreSQL + Redis, NODE_ENV=production,
 * rate limits set out of the way) on a fresh database and key prefix, with a SuperAdmin's
 * Authorization header; `{ embedded: true }` runs the embedded default instead (PGlite and
 * in-process coordination in a fresh DATA_DIR); `{ compiled: true }` runs the build
 * (dist/main.js, `npm run build` first). `stop()` removes everything it created.
 */
export async function startBenchApi(
  env: Record<string, string>,
  opts: { embedded?: boolean; compiled?: boolean; nodeArgs?: string[]; apiDir?: string } = {},
): Promise<BenchApi> {
  const compiled = opts.compiled ?? false;
  const { nodeArgs, apiDir } = opts;
  if (opts.embedded) {
    const api = await spawnApi({
      env: {
        PATH: process.env.PATH,
        JWT_SECRET: CLUSTER_JWT_SECRET,
        SUPERADMIN_EMAIL: CLUSTER_SUPERADMIN.email,
        SUPERADMIN_PASSWORD: CLUSTER_SUPERADMIN.password,
        ...BENCH_ENV,
        ...env,
      },
      dataDirPrefix: "switchboard-bench-",
      compiled,
      nodeArgs,
      apiDir,
    });
    return { url: api.url, pid: api.pid, auth: await superAdminAuth(api.url), stop: api.stop };
  }
  const db = await createTestDatabase();
  const prefix = uniquePrefix("bench");
  const api = await startApiProcess({
    databaseUrl: db.url,
    redisUrl: testRedisUrl(),
    redisKeyPrefix: prefix,
    env: { ...BENCH_ENV, ...env },
    compiled,
    nodeArgs,
    apiDir,
  });
  return {
    url: api.url,
    pid: api.pid,
    auth: await superAdminAuth(api.url),
    async stop() {
      await api.stop();
      await db.drop();
      await deleteKeysWithPrefix(prefix);
    },
  };
}
