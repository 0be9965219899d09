/**
 * Starts a Switchboard API as its own OS process (`node --import tsx src/main.ts`, through
 * scripts/run-node.sh as `npm start` does) on a free loopback port with a fresh DATA_DIR.
 * `startApiProcess` is the cluster flavour for
 * multi-instance tests and benchmarks: separate processes share nothing but PostgreSQL and
 * Redis, exactly like a fleet behind a load balancer. The admin's browser tests use
 * `spawnApi` directly for the embedded default.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freeLoopbackPort } from "./ports.ts";

const API_DIR = fileURLToPath(new URL("../", import.meta.url));
const READY_DEADLINE_MS = 60_000;

export const CLUSTER_JWT_SECRET = "multi-instance-secret-that-is-long-enough-0123456789";
export const CLUSTER_SUPERADMIN = { email: "root@cluster.test", password: "correct-horse-battery-staple" };

/** How `npm start` and `npm run start:prod` start node: with the production memory settings (jemalloc when present). */
const RUN_NODE = join(API_DIR, "scripts/run-node.sh");

export interface ApiProcess {
  url: string;
  pid: number;
  /** The last part of what the server wrote to stdout/stderr (for failure messages). */
  output(): string;
  /** Settles when the process exits, with its exit code or the signal that ended it. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export interface SpawnApiOptions {
  /** The whole environment of the child; PORT, HOST and DATA_DIR are filled in. */
  env: NodeJS.ProcessEnv;
  /** Polled until it answers 200: "/ready" (database and coordination up) or "/health". */
  readyPath?: "/ready" | "/health";
  /** Prefix of the temporary DATA_DIR, so a leftover folder says who made it. */
  dataDirPrefix?: string;
  /**
   * An existing DATA_DIR to start on (a restart of an embedded instance, its database kept),
   * instead of a fresh temporary one; left in place on stop: its creator removes it.
   */
  dataDir?: string;
  /** Run the compiled build (dist/main.js, as `npm run start:prod` does) instead of the sources through tsx. */
  compiled?: boolean;
  /** Extra node flags before the script (benchmarks comparing V8 settings). */
  nodeArgs?: string[];
  /** Another checkout's apps/api to run (benchmarks comparing builds); default this one. */
  apiDir?: string;
}

export interface ApiProcessOptions {
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  env?: Record<string, string>;
  compiled?: boolean;
  nodeArgs?: string[];
  apiDir?: string;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function spawnApi(opts: SpawnApiOptions): Promise<ApiProcess> {
  const port = await freeLoopbackPort();
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), opts.dataDirPrefix ?? "switchboard-proc-")));
  const readyPath = opts.readyPath ?? "/ready";
  const env: NodeJS.ProcessEnv = { NODE: process.execPath, ...opts.env, HOST: "127.0.0.1", PORT: String(port), DATA_DIR: dataDir };
  const args = [...(opts.nodeArgs ?? []), ...(opts.compiled ? ["--enable-source-maps", "dist/main.js"] : ["--import", "tsx", "src/main.ts"])];
  // The script execs node, so child.pid is node's own.
  const child = spawn("sh", [RUN_NODE, ...args], { cwd: opts.apiDir ?? API_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-30_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if (!(await exited(child, 10_000))) {
        child.kill("SIGKILL");
        await exited(child, 5_000);
      }
    }
    if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_DEADLINE_MS;
  let lastProblem = "no answer yet";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`API process exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return { url, pid: child.pid!, output: () => output, exit, stop };
      lastProblem = `GET ${readyPath} answered ${res.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`API process not ready within ${READY_DEADLINE_MS / 1000} s (${lastProblem}):\n${output}`);
}

/** Every member of a test cluster decrypts the same provider secrets. */
export const CLUSTER_SECRETS_KEY = Buffer.alloc(32, 9).toString("base64");

/** One cluster member: shared PostgreSQL, Redis, JWT secret and bootstrap SuperAdmin. */
export async function startApiProcess(opts: ApiProcessOptions): Promise<ApiProcess> {
  return spawnApi({
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "test",
      DATABASE_URL: opts.databaseUrl,
      REDIS_URL: opts.redisUrl,
      REDIS_KEY_PREFIX: opts.redisKeyPrefix,
      JWT_SECRET: CLUSTER_JWT_SECRET,
      SECRETS_KEY: CLUSTER_SECRETS_KEY,
      SUPERADMIN_EMAIL: CLUSTER_SUPERADMIN.email,
      SUPERADMIN_PASSWORD: CLUSTER_SUPERADMIN.password,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
      ...opts.env,
    },
    compiled: opts.compiled ?? false,
    nodeArgs: opts.nodeArgs,
    apiDir: opts.apiDir,
  });
}
