/**
 * Helpers for tests that need real Redis. Every test run gets its own key prefix so
 * parallel test files (and leftovers of crashed runs) can never see each other's keys.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket, connect } from "node:net";
import { Redis } from "ioredis";

/** REDIS_URL when set (CI, other hosts), else the local service the machines start. */
export function testRedisUrl(): string {
  return process.env.REDIS_URL || "redis://127.0.0.1:6379";
}

/** A key prefix unique to this call, e.g. "test:coordination:1234:lq3k2a9f:". */
export function uniquePrefix(name: string): string {
  return `test:${name}:${process.pid}:${randomBytes(4).toString("hex")}:`;
}

/** Deletes every key under a prefix (SCAN, not KEYS, so a shared Redis is not blocked). */
export async function deleteKeysWithPrefix(prefix: string, url = testRedisUrl()): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/**
 * A TCP proxy in front of Redis that a test can cut and restore, to simulate Redis going
 * away and coming back on the same address without touching the shared Redis server.
 */
export interface TcpProxy {
  url: string;
  /** Drops every connection and stops accepting new ones. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetUrl = testRedisUrl()): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on("close", () => sockets.delete(sock));
          sock.on("error", () => {}); // the peer vanished; the close handler cleans up
        }
        client.pipe(upstream).pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        const addr = s.address();
        if (addr && typeof addr === "object") port = addr.port;
        server = s;
        resolve();
      });
    });

  const cut = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  const auth = target.username || target.password ? `${target.username}:${target.password}@` : "";
  return {
    url: `redis://${auth}127.0.0.1:${port}${target.pathname}`,
    cut,
    restore: listen,
    close: cut,
  };
}
