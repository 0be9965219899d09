/**
 * The configuration is documented in three places besides env.ts: the README's table,
 * .env.example and docker-compose.yml. This keeps all of them true as variables come and go.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ZEnv, parseEnv } from "./env.ts";

const root = new URL("../../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");
const variables = Object.keys(ZEnv.shape).sort();

const readmeTable = read("README.md")
  .split("## Configuration")[1]!
  .split("\n## ")[0]!
  .split("\n")
  .map((line) => /^\| `([A-Z0-9_]+)` \|/.exec(line)?.[1])
  .filter((name): name is string => name !== undefined);

const envExample = Object.fromEntries(
  read(".env.example")
    .split("\n")
    .map((line) => /^([A-Z0-9_]+)=(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!]),
);

describe("configuration docs", () => {
  it("the README's table lists every variable env.ts reads, and nothing else", () => {
    expect([...readmeTable].sort()).toEqual(variables);
  });

  it(".env.example lists every variable, and its values parse", () => {
    expect(Object.keys(envExample).sort()).toEqual(variables);
    expect(() => parseEnv(envExample)).not.toThrow();
  });

  it("docker-compose.yml runs postgres, redis and the api with known variables only", () => {
    const compose = parseYaml(read("docker-compose.yml")) as {
      services: Record<string, { environment?: Record<string, string>; depends_on?: Record<string, unknown> }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(["api", "postgres", "redis"]);
    const apiEnv = compose.services.api!.environment ?? {};
    expect(Object.keys(apiEnv).filter((name) => !variables.includes(name))).toEqual([]);
    expect(apiEnv.DATABASE_URL).toMatch(/^postgresql:\/\/.*@postgres:5432\//);
    expect(apiEnv.REDIS_URL).toBe("redis://redis:6379");
    expect(Object.keys(compose.services.api!.depends_on ?? {}).sort()).toEqual(["postgres", "redis"]);
  });
});
