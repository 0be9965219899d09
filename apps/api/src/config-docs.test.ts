/**
 * The configuration is documented in four places besides env.ts: the README's table,
 * .env.example, docker-compose.yml and the Dockerfile. This keeps all of them true as
 * variables come and go (the Kubernetes manifests are checked in deploy-manifests.test.ts).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

  it("docker-compose.yml: postgres, redis, scalable api replicas behind a load balancer, known variables only", () => {
    const compose = parseYaml(read("docker-compose.yml")) as {
      services: Record<string, ComposeService>;
      volumes: Record<string, unknown>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(["api", "lb", "postgres", "redis"]);
    const api = compose.services.api!;
    const apiEnv = api.environment ?? {};
    expect(Object.keys(apiEnv).filter((name) => !variables.includes(name))).toEqual([]);
    expect(apiEnv.DATABASE_URL).toMatch(/^postgresql:\/\/.*@postgres:5432\//);
    expect(apiEnv.REDIS_URL).toBe("redis://redis:6379");
    expect(apiEnv.NODE_ENV).toBe("production");
    expect(apiEnv.HOST).toBe("0.0.0.0");
    // The production rules of env.ts hold for what compose sets (secrets come from .env).
    expect(() => parseEnv({ ...envExample, ...apiEnv, JWT_SECRET: "x".repeat(32), SECRETS_KEY: Buffer.alloc(32, 1).toString("base64"), SUPERADMIN_EMAIL: "a@b.co", SUPERADMIN_PASSWORD: "p".repeat(16) })).not.toThrow();
    expect(Object.keys(api.depends_on ?? {}).sort()).toEqual(["postgres", "redis"]);
    // Every variable of .env.example reaches the api: .env is passed whole.
    expect((api.env_file ?? []).map((f) => (typeof f === "string" ? f : f.path))).toContain(".env");
    // --scale api=3 needs the api to publish no host port; the load balancer does.
    expect(api.ports).toBeUndefined();
    expect(compose.services.lb!.ports).toEqual(["3000:80"]);
    const caddyfile = read("deploy/compose/Caddyfile");
    expect(caddyfile).toMatch(/name api\s+port 3000/);
    expect(api.init).toBe(true);
    // Docker's SIGKILL must come after the server's own drain deadline.
    expect(durationMs(api.stop_grace_period!)).toBeGreaterThan(shutdownTimeoutMs);
    expect(compose.services.postgres!.volumes).toEqual(["postgres-data:/var/lib/postgresql/data"]);
    expect(compose.services.redis!.volumes).toEqual(["redis-data:/data"]);
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(["postgres-data", "redis-data"]));
  });
});

interface ComposeService {
  environment?: Record<string, string>;
  env_file?: (string | { path: string; required?: boolean })[];
  depends_on?: Record<string, unknown>;
  ports?: string[];
  volumes?: string[];
  init?: boolean;
  stop_grace_period?: string;
}

/** The server's drain deadline: SHUTDOWN_TIMEOUT_MS's default when env.ts has it, else 10 s. */
const shutdownTimeoutMs = ((parseEnv({}) as Record<string, unknown>).SHUTDOWN_TIMEOUT_MS as number | undefined) ?? 10_000;

function durationMs(value: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(value);
  if (!m) throw new Error(`unsupported duration ${value}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as "ms" | "s" | "m"];
}

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile").replace(/\\\n/g, " ");
  const lines = dockerfile.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const stages = lines.filter((l) => /^FROM /i.test(l));
  const finalStage = lines.slice(lines.lastIndexOf(stages.at(-1)!));
  const workspaces = ["apps", "packages"].flatMap((dir) =>
    readdirSync(new URL(`${dir}/`, root)).filter((name) => existsSync(new URL(`${dir}/${name}/package.json`, root))).map((name) => `${dir}/${name}`),
  );

  it("is multi-stage on the current Node LTS slim image", () => {
    expect(lines).toContain("ARG NODE_IMAGE=node:24-slim");
    expect(stages.length).toBeGreaterThanOrEqual(3);
    // Each stage starts from the LTS image or from an earlier stage.
    const names: string[] = [];
    for (const stage of stages) {
      const [, from, name] = /^FROM (\S+)(?: AS (\S+))?$/i.exec(stage)!;
      expect(from === "${NODE_IMAGE}" || names.includes(from!)).toBe(true);
      if (name) names.push(name);
    }
    expect(stages.at(-1)).toMatch(/^FROM \$\{NODE_IMAGE\}/);
  });

  it("copies every workspace manifest before installing, so the install layer is cached", () => {
    const firstInstall = lines.findIndex((l) => l.includes("npm ci"));
    const firstCopyAll = lines.findIndex((l) => /^COPY \. \./.test(l));
    expect(firstInstall).toBeGreaterThan(0);
    expect(firstCopyAll).toBeGreaterThan(firstInstall);
    for (const ws of workspaces) expect(lines.slice(0, firstInstall)).toContain(`COPY ${ws}/package.json ${ws}/`);
  });

  it("runs node on the compiled server as a non-root user, production dependencies only", () => {
    expect(finalStage.some((l) => /^USER (node|\d{3,})$/.test(l))).toBe(true);
    const cmd = JSON.parse(finalStage.find((l) => l.startsWith("CMD "))!.slice(4)) as string[];
    expect(cmd[0]).toBe("node");
    expect(cmd.at(-1)).toBe("apps/api/dist/main.js");
    expect(read("apps/api/scripts/build.ts")).toContain('main: "src/main.ts"');
    expect(lines.some((l) => l.includes("npm ci") && l.includes("--omit=dev"))).toBe(true);
    expect(finalStage.some((l) => l.includes("npm "))).toBe(false);
  });

  // The allocator settings are the process's, not Switchboard's configuration.
  const envOf = (stage: string[]) =>
    Object.fromEntries(stage.filter((l) => l.startsWith("ENV ")).flatMap((l) => [...l.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
  const ALLOCATOR = ["LD_PRELOAD", "MALLOC_CONF"];

  it("checks /ready with node (the slim image has no curl) and sets known variables only", () => {
    const healthcheck = finalStage.find((l) => l.startsWith("HEALTHCHECK "));
    expect(healthcheck).toMatch(/CMD \["node", "-e", ".*\/ready/);
    const envNames = Object.keys(envOf(finalStage));
    expect(envNames.length).toBeGreaterThan(0);
    expect(envNames.filter((name) => !variables.includes(name) && !ALLOCATOR.includes(name))).toEqual([]);
  });

  it("runs node on jemalloc and with the node flags npm start uses (scripts/run-node.sh)", () => {
    const env = envOf(finalStage);
    const script = read("apps/api/scripts/run-node.sh");
    expect(finalStage.some((l) => l.includes("libjemalloc2"))).toBe(true);
    expect(script).toContain(env["LD_PRELOAD"]!);
    expect(script).toContain(`MALLOC_CONF="\${MALLOC_CONF:-${env["MALLOC_CONF"]}}"`);
    const cmd = JSON.parse(finalStage.find((l) => l.startsWith("CMD "))!.slice(4)) as string[];
    const scriptFlags = /exec "\$\{NODE:-node\}" (.*) "\$@"/.exec(script)![1]!.split(" ");
    expect(cmd.slice(1, 1 + scriptFlags.length)).toEqual(scriptFlags);
  });

  it(".dockerignore keeps secrets, local state, dependencies, tests and screenshots out", () => {
    const ignored = read(".dockerignore").split("\n").map((l) => l.trim());
    for (const entry of [".env", ".data", "node_modules", "**/test", "**/*.test.ts", "**/screenshots"]) expect(ignored).toContain(entry);
  });
});
