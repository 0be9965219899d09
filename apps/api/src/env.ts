/**
 * The only reader of process.env. Configuration is parsed once with zod; a bad value stops
 * the process at start with one clear line (see `loadEnvOrExit`). A `.env` file in the
 * working directory fills in what the real environment leaves unset.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv as parseDotEnvText } from "node:util";
import { z } from "zod";
import { OPENAI_MAX_REQUEST_CHARS, PROVIDER_IDS, ZProviderId } from "@switchboard/schema";

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const optionalUrl = (name: string) =>
  optionalString.refine((v) => v === undefined || URL.canParse(v), `${name} must be a URL`);

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const OPENAI_MAX_BODY_MB_RANGE = "must be a whole number of megabytes from 1 to 100";
const OIDC_TIMEOUT_RANGE = "must be a whole number of milliseconds from 100 to 120000";
const OPENAI_MAX_TEXT_CHARS_RANGE = "must be a whole number of characters from 1000 to 100000000";

export const ZEnv = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default("127.0.0.1"),
    DATA_DIR: z.string().default("./.data"),
    DATABASE_URL: optionalString.refine(
      (v) => v === undefined || (URL.canParse(v) && /^postgres(ql)?:$/.test(new URL(v).protocol)),
      "DATABASE_URL must be a postgresql:// URL",
    ),
    /**
     * How long a statement on a PostgreSQL connection of the pool may run before the server
     * cancels it (statement_timeout; the request answers 503). 0 sets none. An operator's
     * shorter bound (on the role, in DATABASE_URL) stays. Not applied to migrations, nor to
     * the embedded database (infra/statement-bounds.ts).
     */
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
    REDIS_URL: optionalString.refine(
      (v) => v === undefined || (URL.canParse(v) && /^rediss?:$/.test(new URL(v).protocol)),
      "REDIS_URL must be a redis:// or rediss:// URL",
    ),
    REDIS_KEY_PREFIX: z.string().default("switchboard:"),
    JWT_SECRET: optionalString,
    /** Encrypts provider API keys and headers at rest (AES-256-GCM): base64 of 32 random bytes. */
    SECRETS_KEY: optionalString.refine(
      (v) => v === undefined || (/^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, "base64").length === 32),
      "SECRETS_KEY must be the base64 of 32 random bytes (openssl rand -base64 32)",
    ),
    JWT_ISSUER: z.string().default("switchboard"),
    JWT_AUDIENCE: z.string().default("switchboard"),
    ACCESS_TOKEN_TTL_SEC: positiveInt(900),
    REFRESH_TOKEN_TTL_SEC: positiveInt(60 * 60 * 24 * 30),
    SUPERADMIN_EMAIL: optionalString,
    SUPERADMIN_PASSWORD: optionalString,
    /** Failed sign-ins allowed per account per minute. */
    LOGIN_RATE_LIMIT_PER_MIN: positiveInt(10),
    /** Failed sign-ins allowed per client IP per minute (higher: many users may share a NAT). */
    LOGIN_IP_RATE_LIMIT_PER_MIN: positiveInt(30),
    BETA_MODEL_BASE_URL: optionalUrl("BETA_MODEL_BASE_URL"),
    BETA_MODEL_API_KEY: optionalString,
    BETA_MODEL_NAME: z.string().default("beta"),
    DEEPSEEK_API_KEY: optionalString,
    DEEPSEEK_BASE_URL: z.string().url().default("https://api.deepseek.com"),
    DEEPSEEK_MODEL: z.string().default("deepseek-chat"),
    OPENAI_API_KEY: optionalString,
    OPENAI_BASE_URL: z.string().url().default("https://api.openai.com/v1"),
    OPENAI_MODEL: z.string().default("gpt-4o-mini"),
    OLLAMA_BASE_URL: optionalUrl("OLLAMA_BASE_URL"),
    OLLAMA_MODEL: z.string().default("llama3.1"),
    PROVIDER_ORDER: z
      .string()
      .default(PROVIDER_IDS.join(","))
      .transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.enum(PROVIDER_IDS)).min(1)),
    PROVIDER_TIMEOUT_MS: positiveInt(30_000),
    /** Consecutive failures that open a provider's circuit (it is then skipped)... */
    CIRCUIT_FAILURE_THRESHOLD: positiveInt(3),
    /** ...for this long; then one probe request decides whether it closes again. */
    CIRCUIT_COOLDOWN_MS: positiveInt(5_000),
    /** A stream that sends nothing for this long after its first token ends with an error. */
    CHAT_STREAM_IDLE_TIMEOUT_MS: positiveInt(20_000),
    /** Pause between the offline template's streamed words (0 = as fast as possible; demos like ~20). */
    TEMPLATE_STREAM_DELAY_MS: z.coerce.number().int().min(0).max(1_000).default(0),
    /** Chat requests per user per minute (chat.*, /v1/chat/completions), across instances. */
    CHAT_RATE_LIMIT_PER_MIN: positiveInt(60),
    /** Earlier messages sent as context: at most this many characters... */
    CHAT_HISTORY_MAX_CHARS: z.coerce.number().int().nonnegative().default(24_000),
    /** ...and at most this many messages. */
    CHAT_HISTORY_MAX_MESSAGES: z.coerce.number().int().nonnegative().default(40),
    /** How long emergency freeze/unfreeze wait for every live instance to acknowledge. */
    EMERGENCY_ACK_WAIT_MS: z.coerce.number().int().min(1).max(10_000).default(250),
    /** Consensus runs per user per minute (consensus.query, consensus.stream), across instances. */
    CONSENSUS_RATE_LIMIT_PER_MIN: positiveInt(20),
    /** Deadline of a consensus run when the request gives none (each call is also bounded by PROVIDER_TIMEOUT_MS). */
    CONSENSUS_TIMEOUT_MS: positiveInt(30_000),
    /** The model that merges answers for `synthesize`; unset = the first provider that answered. */
    CONSENSUS_AGGREGATOR: optionalString.pipe(ZProviderId.optional()),
    /** How often each instance publishes its metrics snapshot to coordination (docs/metrics.md). */
    METRICS_FLUSH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
    /** How often each instance writes its per-minute metric buckets to the database. */
    METRICS_DB_FLUSH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
    /** When set, GET /metrics asks for `Authorization: Bearer <this>`; unset, it is public (docs/metrics.md). */
    METRICS_TOKEN: optionalString.refine(
      (v) => v === undefined || (v.length >= 32 && /^[\x21-\x7e]+$/.test(v)),
      "METRICS_TOKEN must be at least 32 characters, printable ASCII without spaces (openssl rand -hex 32)",
    ),
    /** Requests handled at once per instance before new ones get 503 + Retry-After (0 = no cap). */
    MAX_IN_FLIGHT_REQUESTS: z.coerce.number().int().min(0).default(1_024),
    /**
     * Largest body, in MB, of the /v1 routes that carry model input (chat completions,
     * responses, Anthropic's messages, embeddings): a photo as a base64 data URL or a long
     * agent history. Every other route keeps 1 MB. Memory: docs/security.md, "Bodies and
     * methods".
     */
    OPENAI_MAX_BODY_MB: z.coerce
      .number({ error: OPENAI_MAX_BODY_MB_RANGE })
      .int(OPENAI_MAX_BODY_MB_RANGE)
      .min(1, OPENAI_MAX_BODY_MB_RANGE)
      .max(100, OPENAI_MAX_BODY_MB_RANGE)
      .default(20),
    /**
     * Characters of text (message text, tool-call arguments; media parts are the body limit's)
     * one /v1 chat, Responses or Messages request may carry, a conversation it continues included: what
     * one request may cost upstream. The default fits a 64k-token context; agents with long
     * histories need more (a million tokens is about 4,000,000 characters).
     */
    OPENAI_MAX_TEXT_CHARS: z.coerce
      .number({ error: OPENAI_MAX_TEXT_CHARS_RANGE })
      .int(OPENAI_MAX_TEXT_CHARS_RANGE)
      .min(1_000, OPENAI_MAX_TEXT_CHARS_RANGE)
      .max(100_000_000, OPENAI_MAX_TEXT_CHARS_RANGE)
      .default(OPENAI_MAX_REQUEST_CHARS),
    CORS_ORIGINS: z
      .string()
      .default("")
      .transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean)),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    ADMIN_DIST_DIR: optionalString,
    /** Days a request-log row is kept (older rows are deleted in the background). */
    REQUEST_LOG_RETENTION_DAYS: positiveInt(30),
    /** Also store request and response bodies in the request log (redacted of secrets; a stream as the answer it adds up to). */
    REQUEST_LOG_BODIES: z
      .enum(["true", "false", "1", "0", ""])
      .default("false")
      .transform((v) => v === "true" || v === "1"),
    /** Requests per client IP per minute across the gateway, cluster-wide (0 = no limit); a WebSocket call or message counts as one. */
    IP_RATE_LIMIT_PER_MIN: z.coerce.number().int().min(0).default(0),
    /** Open /ws/chat sockets per user on one instance. */
    WS_SOCKETS_PER_USER: positiveInt(5),
    /** Open WebSockets (/ws/chat and /trpc together) per client IP on one instance. */
    WS_SOCKETS_PER_IP: positiveInt(32),
    /** Messages per user per minute over /ws/chat sockets (pings included), on one instance. */
    WS_MESSAGES_PER_MIN: positiveInt(120),
    /** Single sign-on with any OpenID Connect provider (Authorization Code + PKCE). */
    OIDC_ISSUER: optionalUrl("OIDC_ISSUER"),
    OIDC_CLIENT_ID: optionalString,
    OIDC_CLIENT_SECRET: optionalString,
    /** Comma-separated email domains allowed to sign in with OIDC or GitHub (empty = any). */
    OIDC_ALLOWED_DOMAINS: z
      .string()
      .default("")
      .transform((v) => v.split(",").map((s) => s.trim().toLowerCase().replace(/^@/, "")).filter(Boolean)),
    /** Role of a user created by a first single sign-on. */
    OIDC_DEFAULT_ROLE: z.enum(["USER", "ADMIN"]).default("USER"),
    GITHUB_CLIENT_ID: optionalString,
    GITHUB_CLIENT_SECRET: optionalString,
    /**
     * Bound on each call to the identity provider (OIDC or GitHub) while a person waits on the
     * callback: past it the sign-in is a 502 to try again. Above any healthy provider's answer,
     * below the patience of a person (and of the proxies before them).
     */
    OIDC_TIMEOUT_MS: z.coerce
      .number({ error: OIDC_TIMEOUT_RANGE })
      .int(OIDC_TIMEOUT_RANGE)
      .min(100, OIDC_TIMEOUT_RANGE)
      .max(120_000, OIDC_TIMEOUT_RANGE)
      .default(10_000),
    /** Public URL of this server, for sign-in redirects (default: from the request's Host). */
    PUBLIC_URL: optionalUrl("PUBLIC_URL"),
    /**
     * Which proxies to believe about the client's IP and scheme (X-Forwarded-For/-Proto):
     * off (default: the socket's peer is the client), `true` (every hop), a hop count, or
     * a comma-separated list of proxy IPs/CIDRs. Limiters and logs use the IP it yields.
     */
    TRUST_PROXY: z
      .string()
      .trim()
      .default("")
      .transform((v, ctx): boolean | number | string[] => {
        if (v === "" || v === "false") return false;
        if (v === "true") return true;
        if (/^\d+$/.test(v)) return Number(v);
        const list = v.split(",").map((s) => s.trim()).filter(Boolean);
        const bad = list.find((entry) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry));
        if (bad !== undefined) ctx.addIssue({ code: "custom", message: `TRUST_PROXY: "${bad}" is not an IP address or CIDR (or use true, false, a hop count)` });
        return list;
      }),
    /** Whole-request deadline for receiving a request, body included (a trickled body is cut). */
    REQUEST_TIMEOUT_MS: positiveInt(90_000),
    /** A socket with no traffic either way for this long is closed (SSE heartbeats keep streams alive). */
    CONNECTION_TIMEOUT_MS: positiveInt(300_000),
    /** How long an idle keep-alive connection is held open for its next request. */
    KEEP_ALIVE_TIMEOUT_MS: positiveInt(72_000),
    /** Open streams (subscriptions over SSE or WebSocket, other streams) per signed-in user on one instance; 429 beyond. */
    STREAMS_PER_USER: positiveInt(10),
    /** Open streams per instance, all callers together; 429 beyond. */
    MAX_STREAMS: positiveInt(2_000),
    /** Open anonymous streams (emergency.watch without sign-in) per client IP on one instance. */
    WATCH_STREAMS_PER_IP: positiveInt(20),
    /** An anonymous stream is ended after this long; its client reconnects. */
    WATCH_STREAM_MAX_MS: positiveInt(15 * 60_000),
    /** On SIGTERM: how long in-flight requests and chat streams get before they are ended. */
    SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  })
  .superRefine((env, ctx) => {
    if (env.JWT_SECRET !== undefined && env.JWT_SECRET.length < 32) {
      ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "JWT_SECRET must be at least 32 characters" });
    }
    const clusterMode = env.DATABASE_URL !== undefined || env.REDIS_URL !== undefined;
    if (env.NODE_ENV === "production" && env.JWT_SECRET === undefined && clusterMode) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_SECRET"],
        message: "JWT_SECRET is required in cluster mode (every instance must share it)",
      });
    }
    if (env.NODE_ENV === "production" && env.SECRETS_KEY === undefined && clusterMode) {
      ctx.addIssue({
        code: "custom",
        path: ["SECRETS_KEY"],
        message: "SECRETS_KEY is required in cluster mode (every instance must decrypt the same provider keys)",
      });
    }
    if (env.OIDC_ISSUER !== undefined && env.OIDC_CLIENT_ID === undefined) {
      ctx.addIssue({ code: "custom", path: ["OIDC_CLIENT_ID"], message: "OIDC_CLIENT_ID is required with OIDC_ISSUER" });
    }
    if ((env.GITHUB_CLIENT_ID === undefined) !== (env.GITHUB_CLIENT_SECRET === undefined)) {
      ctx.addIssue({ code: "custom", path: ["GITHUB_CLIENT_SECRET"], message: "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together" });
    }
    // Half a cluster in production is a misconfiguration, not a choice: PostgreSQL without
    // Redis leaves every instance with its own emergency flag, revocations and rate limits;
    // Redis without PostgreSQL gives every instance its own users.
    if (env.NODE_ENV === "production" && (env.DATABASE_URL === undefined) !== (env.REDIS_URL === undefined)) {
      const missing = env.DATABASE_URL === undefined ? "DATABASE_URL" : "REDIS_URL";
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: `${missing} is required in production when ${missing === "REDIS_URL" ? "DATABASE_URL" : "REDIS_URL"} is set (cluster mode needs both)`,
      });
    }
    if ((env.SUPERADMIN_EMAIL === undefined) !== (env.SUPERADMIN_PASSWORD === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["SUPERADMIN_PASSWORD"],
        message: "SUPERADMIN_EMAIL and SUPERADMIN_PASSWORD must be set together",
      });
    }
  });

export type Env = z.infer<typeof ZEnv>;
export type ProviderId = (typeof PROVIDER_IDS)[number];
export { PROVIDER_IDS };

/** Names the older backends used, still accepted (the current name wins when both are set). */
export const ENV_ALIASES: Record<string, string> = { OLLAMA_URL: "OLLAMA_BASE_URL", SERVER_HOST: "HOST", SERVER_PORT: "PORT" };

function withAliases(source: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...source };
  for (const [old, current] of Object.entries(ENV_ALIASES)) {
    if (out[old] !== undefined && out[current] === undefined) out[current] = out[old];
  }
  return out;
}

/** Providers whose OpenAI-compatible API lives under a path (/v1); a bare host is a likely mistake. */
const PATHED_BASE_URLS = ["BETA_MODEL_BASE_URL", "OPENAI_BASE_URL"] as const;

/** Things to warn about at start: deprecated names in use, provider URLs without a path. */
export function configWarnings(source: Record<string, string | undefined>, env: Env): string[] {
  const warnings: string[] = [];
  for (const [old, current] of Object.entries(ENV_ALIASES)) {
    if (source[old] === undefined) continue;
    warnings.push(
      source[current] === undefined
        ? `${old} is deprecated; rename it to ${current}`
        : `${old} is deprecated and ignored because ${current} is set; remove it`,
    );
  }
  for (const name of PATHED_BASE_URLS) {
    const value = env[name];
    if (value === undefined || !URL.canParse(value)) continue;
    const url = new URL(value);
    if (url.pathname !== "/" && url.pathname !== "") continue;
    warnings.push(`${name}=${value} has no path; OpenAI-compatible servers answer under /v1: use ${url.origin}/v1`);
  }
  return warnings;
}

/** Parses an environment; throws an Error whose message is one line naming every problem. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = ZEnv.safeParse(withAliases(source));
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "env"}: ${i.message}`);
  throw new Error(`Invalid configuration: ${problems.join("; ")}`);
}

/**
 * Variables from `<dir>/.env` (none when there is no such file). Same syntax as Node's
 * `--env-file`: KEY=value lines, # comments, optional quotes.
 */
export function readDotEnv(dir: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(join(dir, ".env"), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new Error(`Cannot read ${join(dir, ".env")}: ${(error as Error).message}`, { cause: error });
  }
  return Object.fromEntries(Object.entries(parseDotEnvText(text)).filter((e): e is [string, string] => e[1] !== undefined));
}

/**
 * The process configuration: the real environment, over `.env` in the working directory
 * (the repository root for `npm start` and `npm run start:prod`, /app in the container).
 * An empty variable in the real environment still wins over the file, as with Node's own
 * `--env-file`.
 */
export function configSource(): Record<string, string | undefined> {
  return { ...readDotEnv(process.cwd()), ...process.env };
}

export function loadEnvOrExit(): Env {
  try {
    return parseEnv(configSource());
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

/** Raw environment for child processes in tests and scripts that forward it. */
export function processEnvSnapshot(): Record<string, string | undefined> {
  return { ...process.env };
}
