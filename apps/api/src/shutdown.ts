/**
 * A graceful stop: take no new work, end every endless stream with a final event at once,
 * give in-flight requests and chat streams SHUTDOWN_TIMEOUT_MS (ending what is left with an
 * explicit error just before it), then flush metrics and logs and close the infrastructure.
 */
import type { FastifyInstance } from "fastify";
import type { App } from "./app.ts";

/**
 * In-flight model calls are ended at 80% of the timeout: the rest is for writing their error
 * events, storing what was said, and flushing metrics before the hard deadline.
 */
const END_CALLS_AT = 0.8;

export async function stopGracefully(server: FastifyInstance, app: App, timeoutMs: number): Promise<void> {
  const { lifecycle, log } = app.deps;
  lifecycle.beginStop(Math.floor(timeoutMs * END_CALLS_AT));
  // Connections left idle as their last response ends are closed as soon as they are
  // (Node closes only the idle ones of the moment), and at the deadline every one is. Those
  // never used at all are closed as the close begins (http/unused-connections.ts).
  const sweep = setInterval(() => server.server.closeIdleConnections(), 100);
  const hard = setTimeout(() => server.server.closeAllConnections(), timeoutMs);
  try {
    // Stops listening at once; new requests on open connections get 503 with Retry-After
    // meanwhile (http/load-shedding.ts), and their connections close.
    await server.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(hard);
  }
  // Metrics are written (Redis snapshot, database buckets) before their stores close.
  await app.close();
  await new Promise<void>((resolve) => log.flush(() => resolve()));
}
