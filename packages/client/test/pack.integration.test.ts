/**
 * The published package as a stranger gets it: built, packed with `npm pack`, installed from
 * the tarball into a fresh project outside the monorepo, type-checked by that project's own
 * tsc (node16 and bundler resolution, target es2022), then run against a
 * live server, CLI included.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_SUPERADMIN, startTestApp, type TestApp } from "../../../apps/api/test/app.ts";

const clientDir = fileURLToPath(new URL("../", import.meta.url));
const repoRoot = join(clientDir, "../../");
const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** Runs a command without blocking: the live server under test answers from this process. */
function run(cmd: string, args: string[], cwd: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.once("error", reject);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

const consumer = `
import { createSwitchboardClient, errorCodeOf, type AppRouter } from "@switchboard/client";

type Role = "USER" | "ADMIN" | "SUPERADMIN";
export type Router = AppRouter;

export async function main(url: string, email: string, password: string): Promise<string> {
  const anonymous = createSwitchboardClient({ url });
  const status = await anonymous.emergency.status.query();
  const frozen: boolean = status.active;
  const { accessToken } = await anonymous.auth.login.mutate({ email, password });
  const sb = createSwitchboardClient({ url, token: accessToken });
  const me = await sb.auth.me.query();
  const role: Role = me.role;
  let refusal: string | undefined;
  try {
    await anonymous.auth.me.query();
  } catch (error) {
    refusal = errorCodeOf(error);
  }
  return JSON.stringify({ frozen, email: me.email, role, refusal });
}
`;

const brokenConsumer = `
import { createSwitchboardClient } from "@switchboard/client";

export async function main(url: string): Promise<number> {
  const sb = createSwitchboardClient({ url });
  const me = await sb.auth.me.query();
  const wrong: number = me.email;
  return wrong;
}
`;

const tsconfig = (moduleResolution: "node16" | "bundler") =>
  JSON.stringify({
    compilerOptions: {
      target: "es2022",
      lib: ["es2022", "dom"],
      module: moduleResolution === "node16" ? "node16" : "esnext",
      moduleResolution,
      strict: true,
      // @trpc/server's own declarations need lib esnext.disposable when library checking is
      // on; the build compiles our index.d.ts alone with it on.
      skipLibCheck: true,
      types: [],
      outDir: "out",
    },
    files: ["consumer.ts"],
  });

let project: string;
let t: TestApp;

beforeAll(async () => {
  const build = await run(process.execPath, ["--import", "tsx", "scripts/build.ts"], clientDir);
  expect(build.status, build.output).toBe(0);
  project = await mkdtemp(join(tmpdir(), "switchboard-client-consumer-"));
  const pack = await run(npm, ["pack", "--pack-destination", project, "--silent"], join(clientDir, "dist"));
  expect(pack.status, pack.output).toBe(0);
  const tarball = (await readdir(project)).find((f) => f.endsWith(".tgz"))!;
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // Registry dependencies come from npm's cache (the monorepo installed the same versions).
  const install = await run(npm, ["install", `./${tarball}`, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], project);
  expect(install.status, install.output).toBe(0);
  t = await startTestApp({ mode: "cluster" });
}, 300_000);

afterAll(async () => {
  await t?.close();
  if (project) await rm(project, { recursive: true, force: true });
});

describe("the packed @switchboard/client", () => {
  it("installs without the server package or tsx", async () => {
    const installed = await readdir(join(project, "node_modules"));
    expect(installed).not.toContain("tsx");
    const scoped = await readdir(join(project, "node_modules/@switchboard"));
    expect(scoped).toEqual(["client"]);
  });

  it.each(["node16", "bundler"] as const)("type-checks a consumer under moduleResolution %s, target es2022", async (resolution) => {
    await writeFile(join(project, "consumer.ts"), consumer);
    await writeFile(join(project, "tsconfig.json"), tsconfig(resolution));
    const check = await run(process.execPath, [tsc, "-p", "."], project);
    expect(check.output).toBe("");
    expect(check.status).toBe(0);
  });

  it("a deliberate type error fails the consumer's tsc", async () => {
    await writeFile(join(project, "consumer.ts"), brokenConsumer);
    await writeFile(join(project, "tsconfig.json"), tsconfig("node16"));
    const check = await run(process.execPath, [tsc, "-p", ".", "--noEmit"], project);
    expect(check.status).not.toBe(0);
    expect(check.output).toMatch(/consumer\.ts\(7,9\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });

  it("the compiled consumer talks to a live server", async () => {
    await writeFile(join(project, "consumer.ts"), consumer);
    await writeFile(join(project, "tsconfig.json"), tsconfig("node16"));
    const compile = await run(process.execPath, [tsc, "-p", "."], project);
    expect(compile.status, compile.output).toBe(0);
    await writeFile(
      join(project, "run.mjs"),
      `import { main } from "./out/consumer.js";\nconsole.log(await main(...process.argv.slice(2)));\n`,
    );
    const result = await run(process.execPath, ["run.mjs", t.url, TEST_SUPERADMIN.email, TEST_SUPERADMIN.password], project);
    expect(result.status, result.output).toBe(0);
    expect(JSON.parse(result.output)).toEqual({ frozen: false, email: TEST_SUPERADMIN.email, role: "SUPERADMIN", refusal: "UNAUTHORIZED" });
  });

  it("ships the switchboard CLI", async () => {
    const version = await run(join(project, "node_modules/.bin/switchboard"), ["--version"], project);
    expect(version).toEqual({ status: 0, output: "switchboard 0.1.0\n" });
    const status = await run(join(project, "node_modules/.bin/switchboard"), ["emergency", "status", "--url", t.url, "--json"], project);
    expect(status.status, status.output).toBe(0);
    expect(JSON.parse(status.output)).toMatchObject({ active: false });
  });
});
