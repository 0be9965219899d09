// Process entry point: parse config, build the app, listen, and shut down cleanly.
import { collectStartupGarbage } from "./infra/v8-flags.ts"; // first: before any WebAssembly is compiled
import { createApp, type App } from "./app.ts";
import { configSource, configWarnings, loadEnvOrExit } from "./env.ts";
import { buildServer } from "./server.ts";
import { stopGracefully } from "./shutdown.ts";

// Everything this process writes (DATA_DIR: database files, secrets) is for its own user only.
process.umask(0o077);

const env = loadEnvOrExit();

let app: App;
try {
  app = await createApp(env);
} catch (error) {
  console.error(`Startup failed: ${(error as Error).message}`);
  process.exit(1);
}
for (const warning of configWarnings(configSource(), env)) app.deps.log.warn(warning);
const server = await buildServer(app.deps);

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) {
    // A second signal: the operator wants out now.
    app.deps.log.warn({ signal }, "second stop signal; exiting at once");
    process.exit(143);
  }
  closing = true;
  app.deps.log.info({ signal, timeoutMs: env.SHUTDOWN_TIMEOUT_MS }, "shutting down");
  try {
    await stopGracefully(server, app, env.SHUTDOWN_TIMEOUT_MS);
  } catch (error) {
    app.deps.log.error({ err: error }, "shutdown did not finish cleanly");
    process.exit(1);
  }
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

try {
  const address = await server.listen({ port: env.PORT, host: env.HOST });
  app.deps.log.info(
    { address, database: app.deps.db.kind, coordination: app.deps.coordination.kind, instanceId: app.deps.instanceId },
    `Switchboard listening on ${address} (admin at ${address}/)`,
  );
  collectStartupGarbage();
} catch (error) {
  console.error(`Cannot listen on ${env.HOST}:${env.PORT}: ${(error as Error).message}`);
  await app.close();
  process.exit(1);
}
