/**
 * Starts a real Switchboard (createApp + Fastify on an ephemeral loopback port) for
 * integration tests. "cluster" mode uses a fresh PostgreSQL database and a unique Redis key
 * prefix; "embedded" mode uses PGlite in a temp dir and in-process coordination.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { createSwitchboardClient, type SwitchboardClient } from "@switchboard/client";
import { createApp, type App, type CreateAppOptions } from "../src/app.ts";
import { parseEnv } from "../src/env.ts";
import { createLogger } from "../src/infra/logger.ts";
import { buildServer } from "../src/server.ts";
import { createTestDatabase } from "./database.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "./redis.ts";

/** Shared by every test instance, so instances of one cluster decrypt each other's rows. */
export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString("base64");

export const TEST_SUPERADMIN = { email: "root@switchboard.test", password: "correct-horse-battery-staple" };

export interface TestApp {
  url: string;
  app: App;
  server: FastifyInstance;
  /** A typed client, optionally authenticated. */
  client(token?: string): SwitchboardClient;
  /** Signs in and returns the access token. */
  login(email?: string, password?: string): Promise<string>;
  /** Creates a user with a role (through the SuperAdmin) and returns its access token (and password, to sign in again). */
  userWithRole(role: "USER" | "ADMIN" | "SUPERADMIN"): Promise<{ id: string; email: string; password: string; token: string }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  mode?: "cluster" | "embedded";
  env?: Record<string, string>;
  /** Share an existing database/Redis prefix (multi-instance tests). */
  databaseUrl?: string;
  redisKeyPrefix?: string;
  /** Extra createApp options (e.g. emergency timings). */
  appOptions?: Omit<CreateAppOptions, "log">;
  /** Where log lines go (default stdout), e.g. to read them in a test. */
  logDestination?: DestinationStream;
}

let userCounter = 0;

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const mode = opts.mode ?? "cluster";
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-test-"));
  const ownDatabase = mode === "cluster" && !opts.databaseUrl ? await createTestDatabase() : undefined;
  const databaseUrl = opts.databaseUrl ?? ownDatabase?.url;
  const env = parseEnv({
    NODE_ENV: "test",
    PORT: "0",
    DATA_DIR: dataDir,
    JWT_SECRET: "test-secret-that-is-long-enough-for-hs256-0123456789",
    SECRETS_KEY: TEST_SECRETS_KEY,
    SUPERADMIN_EMAIL: TEST_SUPERADMIN.email,
    SUPERADMIN_PASSWORD: TEST_SUPERADMIN.password,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...(mode === "cluster" ? { DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: opts.redisKeyPrefix ?? uniquePrefix("app") } : {}),
    ...opts.env,
  });
  const app = await createApp(env, { ...opts.appOptions, log: createLogger(env.LOG_LEVEL, opts.logDestination) });
  const server = await buildServer(app.deps);
  const address = await server.listen({ port: 0, host: "127.0.0.1" });

  const client = (token?: string) => createSwitchboardClient({ url: address, token });
  const login = async (email = TEST_SUPERADMIN.email, password = TEST_SUPERADMIN.password) =>
    (await client().auth.login.mutate({ email, password })).accessToken;

  return {
    url: address,
    app,
    server,
    client,
    login,
    async userWithRole(role) {
      const admin = client(await login());
      const email = `user${++userCounter}-${Date.now()}@switchboard.test`;
      const password = "a-long-enough-password";
      const user = await admin.users.create.mutate({ email, password, role });
      return { id: user.id, email, password, token: await login(email, password) };
    },
    async close() {
      await server.close();
      await app.close();
      await ownDatabase?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Two instances of one cluster: the same PostgreSQL database and Redis key prefix. */
export interface TestFleet {
  a: TestApp;
  b: TestApp;
  /** Closes both, then deletes the fleet's Redis keys. */
  close(): Promise<void>;
}

/** Starts a fleet of two (`a` owns the database; `appOptions` apply to `a` only). */
export async function startFleet(opts: { env?: Record<string, string>; prefix: string; appOptions?: TestAppOptions["appOptions"] }): Promise<TestFleet> {
  const a = await startTestApp({ env: opts.env ?? {}, redisKeyPrefix: opts.prefix, ...(opts.appOptions ? { appOptions: opts.appOptions } : {}) });
  const b = await startTestApp({ env: opts.env ?? {}, redisKeyPrefix: opts.prefix, databaseUrl: a.app.deps.env.DATABASE_URL! });
  return {
    a,
    b,
    async close() {
      await b.close();
      await a.close();
      await deleteKeysWithPrefix(opts.prefix);
    },
  };
}

/**
 * Prices the default route `auto` (through the model configuration, as an operator would:
 * $1,000 / $2,000 per million tokens), so one offline template answer costs a visible amount.
 */
export async function priceAutoRoute(client: SwitchboardClient): Promise<void> {
  const auto = (await client.models.list.query({ limit: 100 })).items.find((m) => m.name === "auto")!;
  await client.models.upsert.mutate({
    name: "auto",
    targets: auto.targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel, ...(t.weight !== null ? { weight: t.weight } : {}) })),
    inputPricePerMTok: 1_000,
    outputPricePerMTok: 2_000,
  });
}
