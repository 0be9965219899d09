import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Logger } from "pino";
import type { AppDeps } from "./deps.ts";
import type { Env } from "./env.ts";
import { createCoordination } from "./infra/coordination/index.ts";
import { openDatabase } from "./infra/database.ts";
import { startHeartbeat, type Heartbeat } from "./infra/heartbeat.ts";
import { secureDataDir } from "./infra/data-dir.ts";
import { createLifecycle, type Lifecycle } from "./infra/lifecycle.ts";
import { createLogger } from "./infra/logger.ts";
import { createMetricsRegistry } from "./infra/metrics-registry.ts";
import { apiManifestPath } from "./infra/repo-paths.ts";
import { createStreamSlots } from "./infra/stream-slots.ts";
import { createAccessTokens } from "./services/auth/access-tokens.ts";
import { createAuthService } from "./services/auth/auth-service.ts";
import { createPasswordWork, type PasswordWorkLimits } from "./services/auth/password-work.ts";
import { createSessionRevocations } from "./services/auth/revocations.ts";
import { createCredentialWatch } from "./services/auth/credential-watch.ts";
import { createUserDirectory } from "./services/auth/user-directory.ts";
import { bootstrapSuperAdmin, resolveJwtSecret, resolveSecretsKey } from "./services/bootstrap.ts";
import { createEmergencyService, type EmergencyServiceOptions } from "./services/emergency/emergency-service.ts";
import { createEmergencyStore } from "./services/emergency/emergency-store.ts";
import type { EmergencyTarget } from "./services/emergency/policy.ts";
import { createChat } from "./services/chat/index.ts";
import { createChatRate } from "./services/chat/chat-rate.ts";
import { openGateway, type LiveGateway } from "./services/gateway/index.ts";
import { createSecretBox } from "./infra/secrets.ts";
import { consensusConfigProblem, createConsensus } from "./services/consensus/index.ts";
import { observeProviderCalls } from "./services/metrics/call-listener.ts";
import { createMetricsService } from "./services/metrics/metrics-service.ts";
import { createSsoService } from "./services/auth/sso-service.ts";
import { shuttingDown } from "./services/errors.ts";
import { createUsersService, followAccountChange } from "./services/users-service.ts";
import { createResponseItems } from "./services/response-items.ts";
import { createKeys, createLoggedSpend } from "./services/keys/index.ts";
import { createRequestLog } from "./services/request-log/index.ts";

const VERSION: string = JSON.parse(readFileSync(apiManifestPath, "utf8")).version;

export interface App {
  deps: AppDeps;
  close(): Promise<void>;
}

export interface CreateAppOptions {
  log?: Logger;
  /** Test knobs for the emergency stop (ack wait, resync period). */
  emergency?: Pick<EmergencyServiceOptions, "ackWaitMs" | "reconcileIntervalMs">;
  /** Test knob: how often the request log is written (default about every second). */
  requestLogFlushMs?: number;
  /** Test knob: the most rows a request-log export writes (default LOG_EXPORT.maxRows), to cut one without 100,001 rows. */
  logExportMaxRows?: number;
  /** Test knobs: how often revocations and live users are re-read; the refresh grace window. */
  auth?: { resyncIntervalMs?: number; refreshGraceMs?: number; passwordWork?: PasswordWorkLimits };
  /** Test knob: how often held API keys are re-read from the database (default every 5 s). */
  keys?: { resyncIntervalMs?: number };
  /** Test knob: where GitHub is (a local stand-in). */
  ssoUpstream?: AppDeps["ssoUpstream"];
  /** Test knob: how long a /v1 or /api/chat/stream stream waits for its first event (and stays silent) before a heartbeat. */
  sseHeartbeatMs?: number;
}

/**
 * Calls `abort` with the EMERGENCY_STOP AppError once a freeze stops `target` (at once when
 * one already does); returns the unsubscribe. What emergency.stopSignal does, minus the
 * AbortController of its own: chat runs this twice per request (see ChatEmergencyHooks).
 */
function onFreeze(emergency: ReturnType<typeof createEmergencyService>, target: EmergencyTarget, abort: (reason: unknown) => void): () => void {
  const now = emergency.check(target);
  if (now) {
    abort(now);
    return () => {};
  }
  const off = emergency.onChange(() => {
    const refusal = emergency.check(target);
    if (!refusal) return;
    off();
    abort(refusal);
  });
  return off;
}

/**
 * Calls `abort` with a SERVICE_UNAVAILABLE AppError when the shutdown deadline passes (at
 * once if it has), so in-flight model calls end with an explicit error while it can still be
 * written out; returns the unsubscribe.
 */
function onShutdownDeadline(lifecycle: Lifecycle, abort: (reason: unknown) => void): () => void {
  return lifecycle.onDeadline(() => abort(shuttingDown()));
}

/**
 * The composition root: opens infrastructure (database with migrations, coordination),
 * bootstraps the SuperAdmin and wires services. Throws an Error with one clear line when
 * configuration points at something unusable.
 */
export async function createApp(env: Env, opts: CreateAppOptions = {}): Promise<App> {
  const log = opts.log ?? createLogger(env.LOG_LEVEL);
  const lifecycle = createLifecycle();
  const dataDir = resolve(env.DATA_DIR);
  const instanceId = randomUUID();
  if (env.JWT_SECRET && env.JWT_SECRET.length < 32 && env.NODE_ENV !== "production") {
    log.warn("JWT_SECRET is shorter than 32 characters; this is refused when NODE_ENV=production");
  }

  // Coordination first: an unreachable Redis fails in milliseconds, before any migration runs.
  const coordination = await createCoordination({
    redisUrl: env.REDIS_URL,
    keyPrefix: env.REDIS_KEY_PREFIX,
    instanceId,
    log: (level: "info" | "warn" | "error", msg: string) => log[level](msg),
  });
  // Each part opened from here on pushes its close; a start that fails closes them all, in
  // reverse order, so no resync, prune or flush of a part left running meets the database or
  // Redis as they close.
  const opened = startedParts(log);
  opened.push("coordination", () => coordination.close());
  try {
    return await openTheRest();
  } catch (error) {
    await opened.closeAll();
    throw error;
  }

  async function openTheRest(): Promise<App> {
    await secureDataDir(dataDir);
    const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir, statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS, log: (line: string) => log.info(line) });
    opened.push("database", () => db.close());
    // Again: the embedded database just created its files under the process's umask.
    await secureDataDir(dataDir);

    const jwtSecret = await resolveJwtSecret({ configured: env.JWT_SECRET, dataDir, log });
    const accessTokens = createAccessTokens({
      secret: jwtSecret,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      ttlSec: env.ACCESS_TOKEN_TTL_SEC,
    });
    const authLog = log.child({ component: "auth" });
    const authWarn = (msg: string, err?: unknown) => authLog.warn({ err }, msg);
    // Revoked sessions and live users are held in memory, pushed and resynced (see
    // revocation-set.ts): authenticating a request reads no database or Redis.
    const revocations = createSessionRevocations({
      prisma: db.prisma,
      coordination,
      accessTtlSec: env.ACCESS_TOKEN_TTL_SEC,
      log: authWarn,
      resyncIntervalMs: opts.auth?.resyncIntervalMs,
    });
    opened.push("session revocations", () => revocations.close());
    const directory = createUserDirectory({ prisma: db.prisma, coordination, log: authWarn, refreshIntervalMs: opts.auth?.resyncIntervalMs });
    opened.push("user directory", () => directory.close());
    const passwords = createPasswordWork(opts.auth?.passwordWork);
    const auth = createAuthService({
      prisma: db.prisma,
      coordination,
      accessTokens,
      revocations,
      directory,
      passwords,
      refreshTtlSec: env.REFRESH_TOKEN_TTL_SEC,
      loginLimits: { perAccount: env.LOGIN_RATE_LIMIT_PER_MIN, perIp: env.LOGIN_IP_RATE_LIMIT_PER_MIN },
      refreshGraceMs: opts.auth?.refreshGraceMs,
    });
    const loggedSpend = createLoggedSpend(db.prisma);
    const keys = createKeys({
      prisma: db.prisma,
      coordination,
      owners: directory,
      logged: loggedSpend,
      log: (msg, err) => log.warn({ err, component: "keys" }, msg),
      resyncIntervalMs: opts.keys?.resyncIntervalMs,
    });
    opened.push("API keys", () => keys.close());
    const sso = createSsoService({
      prisma: db.prisma,
      auth,
      allowedDomains: env.OIDC_ALLOWED_DOMAINS,
      defaultRole: env.OIDC_DEFAULT_ROLE,
      enabled: { oidc: env.OIDC_ISSUER !== undefined && env.OIDC_CLIENT_ID !== undefined, github: env.GITHUB_CLIENT_ID !== undefined },
    });
    // Running streams end with the session or key that authorized them, on every instance:
    // the stores above hear of each revocation and change, and announce it.
    const credentials = createCredentialWatch({ sessions: revocations, users: directory, keys, log: authWarn });
    opened.push("credential watch", async () => credentials.close());
    const accountChangeDeps = { prisma: db.prisma, auth, onAccessChanged: (userId: string) => keys.userChanged(userId), revokeKeysIn: keys.revokeAllIn };
    const users = createUsersService({ passwords, spend: loggedSpend, ...accountChangeDeps });
    await revocations.start();
    await directory.start();

    await bootstrapSuperAdmin({
      prisma: db.prisma,
      email: env.SUPERADMIN_EMAIL,
      password: env.SUPERADMIN_PASSWORD,
      dataDir,
      log,
      // What follows users.update's own writes follows these: the same function.
      changed: (userId, change, write) => followAccountChange(accountChangeDeps, userId, change, write),
    });

    // The emergency state is loaded before the first request can be served, so a restarted
    // instance comes up frozen if the fleet is frozen.
    const emergency = createEmergencyService({
      store: createEmergencyStore(db.prisma),
      coordination,
      instanceId,
      log: log.child({ component: "emergency" }),
      ackWaitMs: env.EMERGENCY_ACK_WAIT_MS,
      ...opts.emergency,
    });
    opened.push("emergency", () => emergency.close());
    const startedAt = new Date();
    await emergency.start();
    const heartbeat: Heartbeat = await startHeartbeat(
      coordination,
      { id: instanceId, startedAt: startedAt.toISOString(), meta: { host: hostname(), pid: process.pid, version: VERSION } },
      { log: (msg, err) => log.warn({ err }, msg) },
    );
    opened.push("heartbeat", async () => heartbeat.stop());

    // The gateway (provider registry, breaker, chain, live configuration) is built once,
    // here; chat, consensus and metrics share it: one circuit per provider, one set of
    // cooldowns, one call-record stream.
    const secretsKey = await resolveSecretsKey({ configured: env.SECRETS_KEY, dataDir, cluster: env.DATABASE_URL !== undefined, log });
    const gateway: LiveGateway = await openGateway({
      env,
      prisma: db.prisma,
      box: createSecretBox(secretsKey),
      coordination,
      instanceId,
      log: log.child({ component: "gateway" }),
      emergency: {
        isProviderFrozen: emergency.isProviderFrozen,
        // A provider freeze aborts the calls to that provider.
        onProviderStop: (id, abort) => onFreeze(emergency, { kind: "provider", id }, abort),
      },
    });
    opened.push("gateway configuration", () => gateway.config.close());
    const problem = consensusConfigProblem(env, gateway.registry);
    if (problem) throw new Error(`Invalid configuration: ${problem}`);
    await gateway.config.start();
    const { registry: providers, chain, breaker } = gateway;
    // Every Prometheus metric of this instance registers here (GET /metrics).
    const metricsRegistry = createMetricsRegistry();
    const chatRate = createChatRate(coordination, env.CHAT_RATE_LIMIT_PER_MIN);
    const chat = createChat({
      env,
      gateway,
      prisma: db.prisma,
      userExists: auth.userExists,
      coordination,
      rate: chatRate,
      log: log.child({ component: "chat" }),
      emergency: {
        frozenRefusal: (id) => emergency.check({ kind: "provider", id }),
        // A freeze that stops chat (global or chat scope) aborts in-flight chat calls.
        onStop: (abort) => {
          const offFreeze = onFreeze(emergency, { kind: "feature", feature: "chat" }, abort);
          const offStop = onShutdownDeadline(lifecycle, abort);
          return () => {
            offFreeze();
            offStop();
          };
        },
      },
    });

    const consensus = createConsensus({
      env,
      prisma: db.prisma,
      chain,
      registry: providers,
      breaker,
      coordination,
      log: log.child({ component: "consensus" }),
      emergency: {
        // Frozen providers are left out of the fan-out; a consensus (or global) freeze aborts runs.
        frozenRefusal: (id) => emergency.check({ kind: "provider", id }),
        stopSignal: () => {
          const freeze = emergency.stopSignal([{ kind: "feature", feature: "consensus" }]);
          const both = new AbortController();
          const forward = () => both.abort(freeze.signal.reason);
          if (freeze.signal.aborted) forward();
          else freeze.signal.addEventListener("abort", forward, { once: true });
          const offStop = onShutdownDeadline(lifecycle, (reason) => both.abort(reason));
          return {
            signal: both.signal,
            dispose() {
              freeze.signal.removeEventListener("abort", forward);
              offStop();
              freeze.dispose();
            },
          };
        },
      },
    });

    // Metrics subscribe to every upstream call (chat and consensus share the chain) and flush
    // in the background; nothing on a request's path waits for Redis or PostgreSQL.
    const metrics = createMetricsService({
      coordination,
      prisma: db.prisma,
      registry: metricsRegistry,
      identity: { id: instanceId, host: hostname(), pid: process.pid, version: VERSION, startedAt: startedAt.toISOString() },
      log: log.child({ component: "metrics" }),
      circuits: () => Object.fromEntries(providers.all().map((p) => [p.id, breaker.snapshot(p.id)])),
      activeProviders: () => providers.all().map((p) => p.id),
      health: () => Object.fromEntries(gateway.config.health()),
      emergency: () => emergency.status(),
      flushIntervalMs: env.METRICS_FLUSH_INTERVAL_MS,
      dbFlushIntervalMs: env.METRICS_DB_FLUSH_INTERVAL_MS,
    });
    observeProviderCalls(chain, metrics, log.child({ component: "providers" }));
    opened.push("metrics", () => metrics.close());
    await metrics.start();
    await keys.start();
    const requestLog = createRequestLog({
      prisma: db.prisma,
      registry: metricsRegistry,
      retentionDays: env.REQUEST_LOG_RETENTION_DAYS,
      storeBodies: env.REQUEST_LOG_BODIES,
      // Prices come from the live model configuration (models.upsert), held locally.
      prices: (model) => providers.priceOf(model) ?? undefined,
      log: (msg, err) => log.warn({ err, component: "request-log" }, msg),
      onUnpriced: ({ provider, model }) =>
        log.warn(
          { component: "request-log", provider, model },
          `calls to provider "${provider}", model "${model}" have no price: they are logged at cost 0 and no budget counts them; ` +
            "price a route that sends it (models.upsert inputPricePerMTok/outputPricePerMTok) or the auto route (the default price)",
        ),
      // Budgets price the requests in flight at the day's costliest request, anyone's.
      onPriced: (costUsd) => keys.notePrice(costUsd),
      onSpent: metrics.recordSpend,
      ...(opts.requestLogFlushMs !== undefined ? { flushIntervalMs: opts.requestLogFlushMs } : {}),
      ...(opts.logExportMaxRows !== undefined ? { exportMaxRows: opts.logExportMaxRows } : {}),
    });
    opened.push("request log", () => requestLog.close());
    requestLog.start();

    const deps: AppDeps = {
      env,
      lifecycle,
      streams: createStreamSlots({ perUser: env.STREAMS_PER_USER, perAnonymousIp: env.WATCH_STREAMS_PER_IP, total: env.MAX_STREAMS }),
      log,
      instanceId,
      startedAt,
      version: VERSION,
      db,
      coordination,
      auth,
      credentials,
      sso,
      ...(opts.ssoUpstream ? { ssoUpstream: opts.ssoUpstream } : {}),
      ...(opts.sseHeartbeatMs !== undefined ? { sseHeartbeatMs: opts.sseHeartbeatMs } : {}),
      users,
      emergency,
      providers,
      gateway,
      chat,
      chatRate,
      consensus,
      metrics,
      keys,
      requestLog,
      responseItems: createResponseItems(coordination),
    };
    return {
      deps,
      async close() {
        heartbeat.stop();
        await gateway.config.close();
        // Before coordination and the database close: the last figures are written.
        await metrics.close();
        await requestLog.close();
        credentials.close();
        await keys.close();
        await emergency.close();
        await directory.close();
        await revocations.close();
        await coordination.close();
        await db.close();
      },
    };
  }
}

/**
 * The parts a start has opened, each with its close. `closeAll` closes them in reverse order;
 * a close that fails is logged and the rest still close, so the start's own error is the one
 * thrown.
 */
function startedParts(log: Logger) {
  const parts: Array<{ name: string; close: () => Promise<void> }> = [];
  return {
    push(name: string, close: () => Promise<void>) {
      parts.push({ name, close });
    },
    async closeAll() {
      for (const { name, close } of parts.splice(0).reverse()) {
        try {
          await close();
        } catch (error) {
          log.error({ err: error }, `closing ${name} after a failed start failed`);
        }
      }
    },
  };
}
