/**
 * autocannon (and the Portkey gateway bench:peers compares with), installed with npm into a
 * temporary folder, never into the project's dependencies; reused when that folder already
 * holds these versions.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { progress } from "./load.ts";

export const PORTKEY_VERSION = "1.15.2";
export const AUTOCANNON_VERSION = "8.0.0";
export const PEERS_DIR = process.env.BENCH_PEERS_DIR ?? join(tmpdir(), `switchboard-bench-peers-${PORTKEY_VERSION}-${AUTOCANNON_VERSION}`);

const run = promisify(execFile);

export async function installPeers(): Promise<void> {
  const installed = (name: string) => {
    const file = join(PEERS_DIR, "node_modules", name, "package.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : null;
  };
  if (installed("@portkey-ai/gateway") === PORTKEY_VERSION && installed("autocannon") === AUTOCANNON_VERSION) return;
  progress(`[bench] installing @portkey-ai/gateway@${PORTKEY_VERSION} and autocannon@${AUTOCANNON_VERSION} into ${PEERS_DIR}`);
  await mkdir(PEERS_DIR, { recursive: true });
  await writeFile(join(PEERS_DIR, "package.json"), JSON.stringify({ name: "switchboard-bench-peers", private: true }));
  await run("npm", ["install", "--prefix", PEERS_DIR, "--no-audit", "--no-fund", "--ignore-scripts", "--no-save",
    `@portkey-ai/gateway@${PORTKEY_VERSION}`, `autocannon@${AUTOCANNON_VERSION}`], { cwd: PEERS_DIR, maxBuffer: 16 * 1024 * 1024 });
}

/**
 * autocannon at concurrency 32 (its own process) for `seconds`: requests answered and
 * requests per second. Every answer must be a 200.
 */
export async function autocannon(url: string, headers: Record<string, string>, body: string, seconds: number): Promise<{ total: number; rps: number }> {
  const bin = join(PEERS_DIR, "node_modules", "autocannon", "autocannon.js");
  const flags = Object.entries({ ...headers, "content-type": "application/json" }).flatMap(([k, v]) => ["-H", `${k}=${v}`]);
  const { stdout } = await run(process.execPath, [bin, "-c", "32", "-d", String(seconds), "-m", "POST", ...flags, "-b", body, "--json", url], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const result = JSON.parse(stdout) as { requests: { total: number }; duration: number; non2xx: number; errors: number; timeouts: number };
  if (result.non2xx + result.errors + result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts at c=32`);
  }
  return { total: result.requests.total, rps: result.requests.total / result.duration };
}
