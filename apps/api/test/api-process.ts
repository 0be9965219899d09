/**
 * Starts a Switchboard API as its own OS process (`node --import tsx src/main.ts`) on a free
 * loopback port, for multi-instance tests and benchmarks: separate processes share nothing
 * but PostgreSQL and Redis, exactly like a fleet behind a load balancer.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freeLoopbackPort } from "./redis-server.ts";

const API_DIR = fileURLToPath(new URL("../", import.meta.url));

export const CLUSTER_JWT_SECRET = "multi-instance-secret-that-is-long-enough-0123456789";
export const CLUSTER_SUPERADMIN = { email: "root@cluster.test", password: "correct-horse-battery-staple" };

export interface ApiProcess {
  url: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export interface ApiProcessOptions {
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  env?: Record<string, string>;
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

export async function startApiProcess(opts: ApiProcessOptions): Promise<ApiProcess> {
  const port = await freeLoopbackPort();
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-proc-"));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    REDIS_KEY_PREFIX: opts.redisKeyPrefix,
    JWT_SECRET: CLUSTER_JWT_SECRET,
    SUPERADMIN_EMAIL: CLUSTER_SUPERADMIN.email,
    SUPERADMIN_PASSWORD: CLUSTER_SUPERADMIN.password,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    ...opts.env,
  };
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: API_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-30_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if (!(await exited(child, 10_000))) {
        child.kill("SIGKILL");
        await exited(child, 5_000);
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`API process exited (code ${child.exitCode}) before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return { url, pid: child.pid!, output: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`API process not ready within 60 s:\n${output}`);
}
