import { describe, expect, it } from "vitest";
import { parseEnv } from "./env.ts";

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

  it.each([
    [{ DATABASE_URL: "not a url" }, /DATABASE_URL/],
    [{ DATABASE_URL: "mysql://localhost/db" }, /postgresql/],
    [{ REDIS_URL: "localhost:6379" }, /REDIS_URL/],
    [{ JWT_SECRET: "short" }, /JWT_SECRET must be at least 32/],
    [{ PORT: "seventy" }, /PORT/],
    [{ PROVIDER_ORDER: "beta,unknown" }, /PROVIDER_ORDER/],
    [{ SUPERADMIN_EMAIL: "a@b.c" }, /must be set together/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
    [{ CONSENSUS_AGGREGATOR: "GPT 9" }, /CONSENSUS_AGGREGATOR/],
    [{ CONSENSUS_TIMEOUT_MS: "0" }, /CONSENSUS_TIMEOUT_MS/],
  ])("rejects %o with one line naming the problem", (source, pattern) => {
    expect(() => parseEnv(source)).toThrow(pattern);
    try {
      parseEnv(source);
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });
});
