import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configWarnings, parseEnv, readDotEnv } from "./env.ts";

describe("parseEnv", () => {
  it("applies the documented defaults", () => {
    const env = parseEnv({});
    expect(env).toMatchObject({
      PORT: 3000,
      HOST: "127.0.0.1",
      DATA_DIR: "./.data",
      PROVIDER_ORDER: ["beta", "deepseek", "openai", "ollama", "template"],
      PROVIDER_TIMEOUT_MS: 30000,
      DEEPSEEK_BASE_URL: "https://api.deepseek.com",
      DEEPSEEK_MODEL: "deepseek-chat",
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
  });

  it("consensus settings: defaults, and an empty aggregator means none", () => {
    expect(parseEnv({ CONSENSUS_AGGREGATOR: "" })).toMatchObject({ CONSENSUS_RATE_LIMIT_PER_MIN: 20, CONSENSUS_TIMEOUT_MS: 30_000, CONSENSUS_AGGREGATOR: undefined });
    expect(parseEnv({ CONSENSUS_AGGREGATOR: "openai" }).CONSENSUS_AGGREGATOR).toBe("openai");
  });

  it("/v1 bodies: 20 MB unless set, any whole number of MB from 1 to 100", () => {
    expect(parseEnv({}).OPENAI_MAX_BODY_MB).toBe(20);
    expect(parseEnv({ OPENAI_MAX_BODY_MB: "1" }).OPENAI_MAX_BODY_MB).toBe(1);
    expect(parseEnv({ OPENAI_MAX_BODY_MB: "100" }).OPENAI_MAX_BODY_MB).toBe(100);
  });

  it("the bound on each call to an identity provider: 10 s unless set, from 100 ms to 2 minutes", () => {
    expect(parseEnv({}).OIDC_TIMEOUT_MS).toBe(10_000);
    expect(parseEnv({ OIDC_TIMEOUT_MS: "100" }).OIDC_TIMEOUT_MS).toBe(100);
    expect(parseEnv({ OIDC_TIMEOUT_MS: "120000" }).OIDC_TIMEOUT_MS).toBe(120_000);
  });

  it.each([
    [{ DATABASE_URL: "not a url" }, /DATABASE_URL/],
    [{ DATABASE_URL: "mysql://localhost/db" }, /postgresql/],
    [{ REDIS_URL: "localhost:6379" }, /REDIS_URL/],
    [{ JWT_SECRET: "short" }, /JWT_SECRET must be at least 32/],
    [{ METRICS_TOKEN: "short" }, /^Invalid configuration: METRICS_TOKEN: METRICS_TOKEN must be at least 32 characters/],
    [{ METRICS_TOKEN: "a token with spaces that is long enough" }, /METRICS_TOKEN must be at least 32 characters, printable ASCII without spaces/],
    [{ PORT: "seventy" }, /PORT/],
    [{ PROVIDER_ORDER: "beta,unknown" }, /PROVIDER_ORDER/],
    [{ SUPERADMIN_EMAIL: "a@b.c" }, /must be set together/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
    [{ CONSENSUS_AGGREGATOR: "GPT 9" }, /CONSENSUS_AGGREGATOR/],
    [{ CONSENSUS_TIMEOUT_MS: "0" }, /CONSENSUS_TIMEOUT_MS/],
    [{ OPENAI_MAX_BODY_MB: "0" }, /OPENAI_MAX_BODY_MB: must be a whole number of megabytes from 1 to 100/],
    [{ OPENAI_MAX_BODY_MB: "101" }, /OPENAI_MAX_BODY_MB: must be a whole number of megabytes from 1 to 100/],
    [{ OPENAI_MAX_BODY_MB: "abc" }, /OPENAI_MAX_BODY_MB: must be a whole number of megabytes from 1 to 100/],
    [{ OIDC_TIMEOUT_MS: "10s" }, /OIDC_TIMEOUT_MS: must be a whole number of milliseconds from 100 to 120000/],
    [{ OIDC_TIMEOUT_MS: "50" }, /OIDC_TIMEOUT_MS: must be a whole number of milliseconds from 100 to 120000/],
    [{ OIDC_TIMEOUT_MS: "600000" }, /OIDC_TIMEOUT_MS: must be a whole number of milliseconds from 100 to 120000/],
    [{ NODE_ENV: "production", DATABASE_URL: "postgresql://db/sb", REDIS_URL: "redis://r:6379" }, /JWT_SECRET is required in cluster mode/],
    [{ NODE_ENV: "production", REDIS_URL: "redis://r:6379", JWT_SECRET: "x".repeat(32) }, /DATABASE_URL is required in production when REDIS_URL is set/],
    [{ NODE_ENV: "production", DATABASE_URL: "postgresql://db/sb", JWT_SECRET: "x".repeat(32) }, /REDIS_URL is required in production when DATABASE_URL is set/],
  ])("rejects %o with one line naming the problem", (source, pattern) => {
    expect(() => parseEnv(source)).toThrow(pattern);
    try {
      parseEnv(source);
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });
});

describe("production settings", () => {
  it("a full cluster, or the embedded default, is accepted in production", () => {
    const secret = "x".repeat(32);
    const secretsKey = Buffer.alloc(32, 1).toString("base64");
    expect(parseEnv({ NODE_ENV: "production", DATABASE_URL: "postgresql://db/sb", REDIS_URL: "redis://r:6379", JWT_SECRET: secret, SECRETS_KEY: secretsKey }).REDIS_URL).toBe("redis://r:6379");
    expect(() => parseEnv({ NODE_ENV: "production", DATABASE_URL: "postgresql://db/sb", REDIS_URL: "redis://r:6379", JWT_SECRET: secret })).toThrow(/SECRETS_KEY is required in cluster mode/);
    expect(() => parseEnv({ SECRETS_KEY: "c2hvcnQ=" })).toThrow(/SECRETS_KEY must be the base64 of 32 random bytes/);
    expect(parseEnv({ NODE_ENV: "production" }).DATABASE_URL).toBeUndefined();
  });

  it("outside production, PostgreSQL with in-process coordination stays allowed (tests, one-off tools)", () => {
    expect(parseEnv({ DATABASE_URL: "postgresql://db/sb" }).REDIS_URL).toBeUndefined();
  });
});

describe("readDotEnv", () => {
  it("reads KEY=value lines with comments and quotes, and nothing when there is no file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-dotenv-"));
    try {
      expect(readDotEnv(dir)).toEqual({});
      await writeFile(join(dir, ".env"), '# a comment\nPORT=4123\nJWT_ISSUER="quoted issuer"\nEMPTY=\n');
      expect(readDotEnv(dir)).toEqual({ PORT: "4123", JWT_ISSUER: "quoted issuer", EMPTY: "" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the older backends' configuration", () => {
  it("accepts OLLAMA_URL, SERVER_HOST and SERVER_PORT, and warns about each", () => {
    const source = { OLLAMA_URL: "http://gpu-box:11434", SERVER_HOST: "0.0.0.0", SERVER_PORT: "8080" };
    const env = parseEnv(source);
    expect(env).toMatchObject({ OLLAMA_BASE_URL: "http://gpu-box:11434", HOST: "0.0.0.0", PORT: 8080 });
    expect(configWarnings(source, env)).toEqual([
      "OLLAMA_URL is deprecated; rename it to OLLAMA_BASE_URL",
      "SERVER_HOST is deprecated; rename it to HOST",
      "SERVER_PORT is deprecated; rename it to PORT",
    ]);
  });

  it("the current name wins over its alias", () => {
    const source = { SERVER_PORT: "8080", PORT: "3001" };
    const env = parseEnv(source);
    expect(env.PORT).toBe(3001);
    expect(configWarnings(source, env)).toEqual(["SERVER_PORT is deprecated and ignored because PORT is set; remove it"]);
  });

  it("a bad alias value is refused like the variable it stands for", () => {
    expect(() => parseEnv({ SERVER_PORT: "eighty" })).toThrow(/PORT/);
  });

  it("warns about a provider base URL without a path, naming the value to use", () => {
    const source = { BETA_MODEL_BASE_URL: "http://localhost:8000", OPENAI_BASE_URL: "https://proxy.example/v1" };
    expect(configWarnings(source, parseEnv(source))).toEqual([
      "BETA_MODEL_BASE_URL=http://localhost:8000 has no path; OpenAI-compatible servers answer under /v1: use http://localhost:8000/v1",
    ]);
    expect(configWarnings({}, parseEnv({}))).toEqual([]);
  });
});
