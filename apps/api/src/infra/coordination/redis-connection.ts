/**
 * Connection plumbing for the Redis adapter: URL validation, client options and the
 * start-up wait. Kept apart from the adapter so the failure modes at start (bad URL,
 * unreachable server) read as one clear Error each.
 */
import { Redis } from "ioredis";

const URL_SHAPE = "expected redis://[user:password@]host[:port][/db] or rediss://...";

/** Hide the password before a URL goes into an error message or a log line. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/**
 * Validates the URL up front, because ioredis accepts garbage silently (it turns
 * "redis://host:abc" into port 6379 and "not a url" into host "not"), and returns a
 * password-free form for messages.
 */
export function parseRedisUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`Invalid REDIS_URL ${JSON.stringify(redact(url))}: ${URL_SHAPE}`);
  }
  const dbOk = u.pathname === "" || u.pathname === "/" || /^\/\d+$/.test(u.pathname);
  if ((u.protocol !== "redis:" && u.protocol !== "rediss:") || !u.hostname || !dbOk) {
    throw new Error(`Invalid REDIS_URL ${JSON.stringify(redact(url))}: ${URL_SHAPE}`);
  }
  if (u.password) u.password = "***";
  return u.toString();
}

export interface Lifecycle {
  started: boolean;
  closing: boolean;
}

/**
 * One ioredis client. Choices that give "fail fast, keep reconnecting":
 * - lazyConnect so the caller attaches listeners before any socket event can fire;
 * - enableOfflineQueue false: a command issued while disconnected rejects at once instead
 *   of queueing without bound (handshake commands are still allowed while connecting);
 * - maxRetriesPerRequest 0: commands in flight when the socket drops reject at once
 *   instead of being replayed after an unknown delay (replaying INCRs is unsafe anyway);
 * - autoResubscribe false: the adapter restores its own channel list so it knows when
 *   resubscription finished and only then reports the connection as ready again;
 * - retryStrategy never gives up after start, retries quickly during the start window
 *   and stops once the adapter is closing.
 */
export function openClient(
  url: string,
  name: string,
  connectTimeoutMs: number,
  commandTimeoutMs: number,
  life: Lifecycle,
): Redis {
  return new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    keepAlive: 10_000,
    // disconnect() arms a timer of this length when the socket is already dead; the 2s
    // default would hold the process open that long after a failed start.
    disconnectTimeout: 500,
    retryStrategy: (times) => {
      if (life.closing) return null;
      return life.started ? Math.min(times * 100, 2_000) : 100;
    },
  });
}

export function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors[0] instanceof Error) {
    return err.errors[0].message; // Node's happy-eyeballs wraps per-address failures
  }
  if (err instanceof Error) return err.message || String((err as { code?: string }).code ?? err);
  return String(err);
}

/** Resolves once every client is ready; rejects with one message after timeoutMs. */
export function waitForReady(clients: Redis[], timeoutMs: number, display: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastError = "";
    let pending = clients.length;
    const onError = (err: unknown) => {
      // A socket that accepts then drops surfaces as ioredis' offline-queue error from its
      // handshake commands; say what actually happened instead.
      const text = errorText(err);
      lastError = text.includes("enableOfflineQueue") ? "connection closed during handshake" : text;
    };
    const onReady = () => {
      if (--pending === 0) finish();
    };
    const cleanup = () => {
      clearTimeout(timer);
      for (const c of clients) {
        c.off("error", onError);
        c.off("ready", onReady);
      }
    };
    const finish = () => {
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      const why = lastError ? ` (last error: ${lastError})` : "";
      reject(new Error(`Redis unreachable at ${display} within ${timeoutMs}ms${why}`));
    }, timeoutMs);
    for (const c of clients) {
      c.on("error", onError);
      c.once("ready", onReady);
      // connect() also rejects on each failed attempt; the retry loop and the timer above
      // decide the outcome, so its promise is deliberately ignored.
      c.connect().catch(() => {});
    }
  });
}
