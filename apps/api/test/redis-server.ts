/**
 * A private redis-server process a test can kill and restart, to exercise Redis outages
 * for real (the shared Redis on 6379 must never be stopped: other test files use it).
 * No persistence (--save ''): a restart comes back empty, like a flushed cache node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { freeLoopbackPort } from "./ports.ts";

export interface RedisServer {
  url: string;
  port: number;
  /** SIGKILL: connections drop at once, nothing is flushed. */
  kill(): Promise<void>;
  /** Starts again on the same port (empty). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function waitForPing(url: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = "";
  while (Date.now() < deadline) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server at ${url} did not answer PING (${last})`);
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freeLoopbackPort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const launch = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    await waitForPing(url, 10_000);
  };
  const kill = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    c.kill("SIGKILL");
    await exited(c);
  };

  await launch();
  return { url, port, kill, restart: launch, stop: kill };
}
