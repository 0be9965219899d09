/**
 * Reads the memory of a process that runs with test/memory-probe.mjs preloaded
 * (`NODE_OPTIONS=--import …/memory-probe.mjs`, MEMORY_PROBE_DIR): what it measures, and on
 * request after one full garbage collection, a heap snapshot or a sampling heap profile.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const MEMORY_PROBE = fileURLToPath(new URL("./memory-probe.mjs", import.meta.url));

/** The environment that makes a Node process answer readMemory (NODE_OPTIONS replaced). */
export const memoryProbeEnv = (dir: string) => ({ NODE_OPTIONS: `--import ${MEMORY_PROBE}`, MEMORY_PROBE_DIR: dir });

export interface MemoryReading {
  /** Readings taken so far by this process (this one included). */
  n: number;
  usage: NodeJS.MemoryUsage;
  /** Used bytes per V8 heap space. */
  spaces: Record<string, number>;
  /** Size (committed bytes) per V8 heap space. */
  spaceSizes: Record<string, number>;
  /** Garbage collections since start, by kind: count and pause time (ms). */
  gcs: Record<string, { count: number; ms: number }>;
  snapshot?: string;
  allocations?: string;
}

export interface ReadingRequest {
  /** One full garbage collection before measuring. */
  gc?: boolean;
  /** Write a heap snapshot after measuring (its path comes back in `snapshot`). */
  snapshot?: boolean;
  /** Start or stop V8's sampling heap profiler (the stop writes `allocations`). */
  sampling?: "start" | "stop";
  /** With sampling "start": keep only samples of objects still alive at the stop. */
  retained?: boolean;
}

export async function readMemory(pid: number, dir: string, request: ReadingRequest = {}, timeoutMs = 120_000): Promise<MemoryReading> {
  const file = join(dir, `${pid}.json`);
  const current = () => readFile(file, "utf8").then((t) => JSON.parse(t) as MemoryReading).catch(() => null);
  const previous = (await current())?.n ?? 0;
  await writeFile(join(dir, `${pid}.request.json`), JSON.stringify(request));
  process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reading = await current();
    if (reading && reading.n > previous) return reading;
    await new Promise((r) => setTimeout(r, 50));
  }
  await rm(join(dir, `${pid}.request.json`), { force: true });
  throw new Error(`process ${pid} gave no memory reading within ${timeoutMs / 1000} s (is test/memory-probe.mjs preloaded?)`);
}
