/**
 * `npm run bench:memory`: where one Switchboard instance's memory goes, idle and under load,
 * and what V8 settings change (with their CPU cost, measured in the same run).
 *
 * Starts the benchmark upstream and one Switchboard per variant (MEMORY_MODE cluster or
 * embedded; MEMORY_BUILD compiled or source) with test/memory-probe.mjs preloaded. Each
 * round sends MEMORY_SECONDS of autocannon at c=32 on POST /v1/chat/completions (JSON, then
 * stream) to every variant in turn (rotating order, so a noisy moment hits all alike), then
 * reads: RSS by kind of mapping (/proc/<pid>/smaps, bench/smaps.ts), process.memoryUsage()
 * and V8's heap spaces. After the last round, one full GC and a last reading separate what is
 * held from what was garbage. With MEMORY_SNAPSHOT=1 the first variant also writes heap
 * snapshots (idle and after load; largest entries printed side by side).
 *
 * Knobs: MEMORY_MODE (cluster), MEMORY_BUILD (compiled), MEMORY_SECONDS (5), MEMORY_ROUNDS (2),
 * MEMORY_VARIANTS (per variant, separated by ";": node flags, NAME=value environment
 * variables and --api-dir=<another checkout's apps/api, built> to compare with another
 * version; an empty entry for none; e.g. ";--max-semi-space-size=8;LD_PRELOAD="),
 * MEMORY_SETTLE_SECONDS (5: idle time between start-up and the idle reading), MEMORY_SNAPSHOT,
 * MEMORY_ALLOCATIONS (1: V8's sampling heap profiler on the first variant during the load:
 * what is allocated, by area and by our nearest caller), MEMORY_OUT (keep readings,
 * snapshots and profiles there).
 */
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { autocannon, installPeers } from "./autocannon.ts";
import { summarizeAllocations, summarizeHeap } from "./heap-summary.ts";
import { ensureBuilt, progress, spawnHelper, startBenchApi, type BenchApi } from "./load.ts";
import { summarizeSmaps, type SmapsSummary } from "./smaps.ts";
import { memoryProbeEnv, readMemory, type MemoryReading } from "../test/memory-reading.ts";
import { cpuMsOf, rssMbOf } from "../test/proc.ts";

const MODE = process.env.MEMORY_MODE ?? "cluster";
const BUILD = process.env.MEMORY_BUILD ?? "compiled";
const SECONDS = Number(process.env.MEMORY_SECONDS ?? 5);
const ROUNDS = Number(process.env.MEMORY_ROUNDS ?? 2);
const SNAPSHOT = process.env.MEMORY_SNAPSHOT === "1";
const ALLOCATIONS = process.env.MEMORY_ALLOCATIONS === "1";
const SETTLE = Number(process.env.MEMORY_SETTLE_SECONDS ?? 5);
const VARIANTS = (process.env.MEMORY_VARIANTS ?? "").split(";").map((v) => v.trim());

interface Reading {
  label: string;
  smaps: SmapsSummary;
  probe: MemoryReading;
}

interface Variant {
  flags: string;
  api: BenchApi;
  readings: Reading[];
  requests: number;
  rps: number[];
  streamRps: number[];
  cpuMs: number;
  /** RSS sampled every 100 ms while under load (MB). */
  rssUnderLoad: number[];
  idleSnapshot?: string;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);


async function read(v: Variant, dir: string, label: string, request: { gc?: boolean; snapshot?: boolean } = {}): Promise<Reading> {
  const p = await readMemory(v.api.pid, dir, request);
  const reading = { label, probe: p, smaps: summarizeSmaps(readFileSync(`/proc/${v.api.pid}/smaps`, "utf8"), process.execPath) };
  v.readings.push(reading);
  return reading;
}

const BREAKDOWN: Array<[string, (r: Reading) => string]> = [
  ["RSS", (r) => mb(r.smaps.rss)],
  ["  V8 heap, code, stacks (other anonymous)", (r) => mb(r.smaps.byKind["other anonymous"] ?? 0)],
  ["  malloc: main arena", (r) => mb(r.smaps.byKind["malloc: main arena"] ?? 0)],
  ["  malloc: other arenas", (r) => mb(r.smaps.byKind["malloc: other arenas"] ?? 0)],
  ["  WebAssembly memory", (r) => mb(r.smaps.byKind["WebAssembly memory"] ?? 0)],
  ["  node binary (file pages, shared)", (r) => mb(r.smaps.byKind["node binary"] ?? 0)],
  ["  other files", (r) => mb(r.smaps.byKind["other files"] ?? 0)],
  ["V8 heap: total", (r) => mb(r.probe.usage.heapTotal)],
  ["V8 heap: used", (r) => mb(r.probe.usage.heapUsed)],
  ["  new space used / size", (r) => `${mb(r.probe.spaces["new_space"] ?? 0)} / ${mb(r.probe.spaceSizes["new_space"] ?? 0)}`],
  ["  old space used / size", (r) => `${mb(r.probe.spaces["old_space"] ?? 0)} / ${mb(r.probe.spaceSizes["old_space"] ?? 0)}`],
  ["  code space used", (r) => mb(r.probe.spaces["code_space"] ?? 0)],
  ["  large objects used", (r) => mb((r.probe.spaces["large_object_space"] ?? 0) + (r.probe.spaces["new_large_object_space"] ?? 0) + (r.probe.spaces["code_large_object_space"] ?? 0))],
  ["external (incl. WebAssembly memory size)", (r) => mb(r.probe.usage.external)],
  ["  array buffers", (r) => mb(r.probe.usage.arrayBuffers)],
];

function printBreakdown(v: Variant): void {
  console.log(`\nMB, ${v.flags || "default flags"}:\n`);
  console.log(`| MB | ${v.readings.map((r) => r.label).join(" | ")} |`);
  console.log(`|---|${v.readings.map(() => "---:").join("|")}|`);
  for (const [name, cell] of BREAKDOWN) console.log(`| ${name} | ${v.readings.map(cell).join(" | ")} |`);
}

const gcMs = (r: Reading) => Object.values(r.probe.gcs ?? {}).reduce((sum, g) => sum + g.ms, 0);

function printSummary(variants: Variant[]): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log("| variant | RSS idle | RSS under load: mean / max | RSS after load | then after a full GC | V8 heap used after GC | c=32 req/s | c=32 stream req/s | CPU ms / request | GC pauses ms / request |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const v of variants) {
    const last = v.readings.at(-1)!;
    console.log(
      `| ${v.flags || "(none)"} | ${mb(v.readings[0]!.smaps.rss)} | ${mean(v.rssUnderLoad).toFixed(1)} / ${Math.max(...v.rssUnderLoad).toFixed(1)} | ${mb(v.readings.at(-2)!.smaps.rss)} | ${mb(last.smaps.rss)} | ${mb(last.probe.usage.heapUsed)} | ${median(v.rps).toFixed(0)} | ${median(v.streamRps).toFixed(0)} | ${(v.cpuMs / v.requests).toFixed(3)} | ${(gcMs(v.readings.at(-2)!) - gcMs(v.readings[0]!)) / v.requests > 0 ? ((gcMs(v.readings.at(-2)!) - gcMs(v.readings[0]!)) / v.requests).toFixed(3) : "—"} |`,
    );
  }
}

function printSnapshots(v: Variant): void {
  const snapshots: Array<[string, string | undefined]> = [
    ["idle, after a full GC (an instance of its own)", v.idleSnapshot],
    ["after load and a full GC", v.readings.at(-1)!.probe.snapshot],
  ];
  for (const [label, file] of snapshots) {
    if (!file) continue;
    const { totalMb, rows } = summarizeHeap(file, 20);
    console.log(`\nheap snapshot ${label}: ${totalMb.toFixed(1)} MB (self sizes; ${file})`);
    for (const r of rows) console.log(`  ${r.mb.toFixed(1).padStart(7)} MB  ${String(r.count).padStart(8)}×  ${r.name}`);
  }
}

function printAllocations(file: string, requests: number): void {
  const { totalMb, areas, callers } = summarizeAllocations(file, 15);
  console.log(`\nallocated during the load (sampled): ${totalMb.toFixed(0)} MB, ${((totalMb * 1024) / requests).toFixed(0)} kB per request (${file})`);
  const pct = (bytes: number) => `${((bytes / 1048576 / totalMb) * 100).toFixed(1).padStart(5)}%`;
  for (const [title, rows] of [["by area", areas], ["by our nearest caller", callers]] as const) {
    console.log(`\n${title}:`);
    for (const [name, bytes] of rows) console.log(`  ${pct(bytes)}  ${name}`);
  }
}

async function main(): Promise<void> {
  await installPeers();
  const dir = process.env.MEMORY_OUT ?? (await mkdtemp(join(tmpdir(), "switchboard-memory-")));
  await mkdir(dir, { recursive: true });
  if (BUILD === "compiled") ensureBuilt();
  const upstream = await spawnHelper(new URL("./upstream.ts", import.meta.url));
  const start = (variant: string) => {
    const tokens = variant.split(/\s+/).filter(Boolean);
    const isEnv = (t: string) => /^[A-Z_]+=/.test(t);
    const isApiDir = (t: string) => t.startsWith("--api-dir=");
    const env = Object.fromEntries(tokens.filter(isEnv).map((t) => [t.slice(0, t.indexOf("=")), t.slice(t.indexOf("=") + 1)]));
    const apiDir = tokens.find(isApiDir)?.slice("--api-dir=".length);
    return startBenchApi(
      { BETA_MODEL_BASE_URL: upstream.line, PROVIDER_ORDER: "beta,template", ...memoryProbeEnv(dir), ...env },
      { embedded: MODE === "embedded", compiled: BUILD === "compiled", nodeArgs: tokens.filter((t) => !isEnv(t) && !isApiDir(t)), ...(apiDir ? { apiDir } : {}) },
    );
  };
  const variants: Variant[] = [];
  try {
    for (const flags of VARIANTS) {
      progress(`[memory] starting ${flags || "default flags"}`);
      const v: Variant = { flags, api: await start(flags), readings: [], requests: 0, rps: [], streamRps: [], cpuMs: 0, rssUnderLoad: [] };
      variants.push(v);
    }
    if (SNAPSHOT) {
      // Writing a snapshot leaves ~100 MB in malloc: the idle one comes from an instance of
      // its own, and the measured instance writes its snapshot after its last reading.
      const first = await start(VARIANTS[0]!);
      try {
        variants[0]!.idleSnapshot = (await readMemory(first.pid, dir, { gc: true, snapshot: true })).snapshot;
      } finally {
        await first.stop();
      }
    }
    await new Promise((r) => setTimeout(r, SETTLE * 1000));
    for (const v of variants) await read(v, dir, "idle");
    const body = (stream: boolean) => JSON.stringify({ model: "auto", messages: [{ role: "user", content: "Say hello" }], ...(stream ? { stream: true } : {}) });
    if (ALLOCATIONS) await readMemory(variants[0]!.api.pid, dir, { sampling: "start" });
    for (let round = 1; round <= ROUNDS; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
      for (const v of order) {
        const url = `${v.api.url}/v1/chat/completions`;
        const cpuBefore = cpuMsOf(v.api.pid);
        const sampler = setInterval(() => v.rssUnderLoad.push(rssMbOf(v.api.pid)), 100);
        progress(`[memory] round ${round}/${ROUNDS} ${v.flags || "default flags"}: c=32 JSON`);
        const plain = await autocannon(url, v.api.auth, body(false), SECONDS);
        progress(`[memory] round ${round}/${ROUNDS} ${v.flags || "default flags"}: c=32 stream`);
        const streamed = await autocannon(url, v.api.auth, body(true), SECONDS);
        clearInterval(sampler);
        v.cpuMs += cpuMsOf(v.api.pid) - cpuBefore;
        v.requests += plain.total + streamed.total;
        v.rps.push(plain.rps);
        v.streamRps.push(streamed.rps);
        await read(v, dir, `after ${round * 2 * SECONDS} s of load`);
      }
    }
    const allocations = ALLOCATIONS ? (await readMemory(variants[0]!.api.pid, dir, { sampling: "stop" })).allocations : undefined;
    for (const [i, v] of variants.entries()) await read(v, dir, "then full GC", { gc: true, snapshot: SNAPSHOT && i === 0 });
    progress("");
    const what = `Switchboard ${MODE}, ${BUILD === "compiled" ? "compiled build (dist/main.js)" : "sources through tsx"}`;
    console.log(`\nbench:memory — ${what}; per variant ${ROUNDS} rounds of ${SECONDS} s c=32 JSON + ${SECONDS} s c=32 stream on POST /v1/chat/completions; node ${process.version}\n`);
    printSummary(variants);
    for (const v of variants) printBreakdown(v);
    if (SNAPSHOT) printSnapshots(variants[0]!);
    if (allocations) printAllocations(allocations, variants[0]!.requests);
  } finally {
    for (const v of variants) await v.api.stop();
    upstream.stop();
    if (!process.env.MEMORY_OUT) await rm(dir, { recursive: true, force: true });
  }
}

await main();
