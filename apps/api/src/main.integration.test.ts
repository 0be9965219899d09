import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("the server process with bad configuration", () => {
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ["--import", "tsx", main], {
      env: { PATH: process.env.PATH, ...env },
      encoding: "utf8",
      timeout: 30_000,
    });

  it.each([
    [{ NODE_ENV: "production", JWT_SECRET: "too-short" }, /JWT_SECRET must be at least 32 characters/],
    [{ DATABASE_URL: "::not-a-url::" }, /DATABASE_URL must be a postgresql:\/\/ URL/],
    [{ OPENAI_MAX_BODY_MB: "101" }, /OPENAI_MAX_BODY_MB: must be a whole number of megabytes from 1 to 100/],
    [{ REDIS_URL: "redis://127.0.0.1:1", DATA_DIR: "/tmp/switchboard-env-test" }, /Redis/i],
  ])("exits 1 with one clear line for %o", (env, pattern) => {
    const result = run(env);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });
});
