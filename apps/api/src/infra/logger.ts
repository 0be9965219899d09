import pino, { type DestinationStream, type Logger } from "pino";

/** Paths pino blanks out wherever they appear, so no secret reaches a log line. */
export const REDACTED_PATHS = [
  "password",
  "*.password",
  "passwordHash",
  "*.passwordHash",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "secret",
  "*.secret",
  "authorization",
  "*.authorization",
  "cookie",
  "*.cookie",
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  "headers.authorization",
  "headers.cookie",
  // A whole configuration object logged by mistake must not leak what it holds.
  "env.JWT_SECRET",
  "env.SECRETS_KEY",
  "env.METRICS_TOKEN",
  "env.OIDC_CLIENT_SECRET",
  "env.GITHUB_CLIENT_SECRET",
  "env.SUPERADMIN_PASSWORD",
  "env.DATABASE_URL",
  "env.REDIS_URL",
  "env.BETA_MODEL_API_KEY",
  "env.DEEPSEEK_API_KEY",
  "env.OPENAI_API_KEY",
];

/** `destination` (default stdout) lets tests read exactly what would be written. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "switchboard" },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
