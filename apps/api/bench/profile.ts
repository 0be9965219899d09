/**
 * `npm run bench:profile`: where Switchboard's CPU goes on POST /v1/chat/completions.
 *
 * Starts the benchmark upstream and one Switchboard (cluster by default) with the V8 CPU
 * profiler on (bench/cpu-profile.mjs: the same profiler as `node --cpu-prof`, which Node 20
 * refuses inside NODE_OPTIONS), sends PROFILE_REQUESTS requests at PROFILE_CONCURRENCY,
 * stops the server, maps the build's frames back to the sources and prints what the profile says: CPU time per request (from /proc),
 * self time by area (our code, each dependency, Node internals, GC) and the top functions
 * by self time. The .cpuprofile is kept in PROFILE_OUT when set (open it in Chrome
 * DevTools' Performance panel or speedscope for the flame graph).
 *
 * It profiles the compiled build (apps/api/dist, built first when older than the sources), as
 * bench:peers measures it; PROFILE_SOURCE=1 profiles the sources through tsx instead (whose
 * transform adds a `__name` call to every function it creates).
 *
 * Knobs: PROFILE_MODE (cluster|embedded), PROFILE_STREAM (1 = stream: true),
 * PROFILE_REQUESTS (4000), PROFILE_CONCURRENCY (16), PROFILE_WARMUP (500), PROFILE_TOP (25),
 * PROFILE_INTERVAL (µs between samples, 200).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt, post, progress, runLoad, spawnHelper, startBenchApi } from "./load.ts";
import { cpuMsOf } from "../test/proc.ts";
import { mapFramesToSources, type ProfileFrame } from "./profile-sources.ts";

const MODE = process.env.PROFILE_MODE ?? "cluster";
const STREAM = process.env.PROFILE_STREAM === "1";
const REQUESTS = Number(process.env.PROFILE_REQUESTS ?? 4000);
const CONCURRENCY = Number(process.env.PROFILE_CONCURRENCY ?? 16);
const WARMUP = Number(process.env.PROFILE_WARMUP ?? 500);
const TOP = Number(process.env.PROFILE_TOP ?? 25);
const OUT = process.env.PROFILE_OUT;
const COMPILED = process.env.PROFILE_SOURCE !== "1";

interface ProfileNode {
  id: number;
  callFrame: ProfileFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}


/** Which part of the process a script URL belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native / V8 builtins)";
  if (url.startsWith("node:")) return "node internals";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/(apps\/[^/]+\/src\/[^/]+|packages\/[^/]+)/.exec(url);
  return ours ? ours[1]! : url;
}

/** Self time per function and per area, in ms, from the samples and their time deltas. */
export function summarize(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfByNode = new Map<number, number>();
  profile.samples.forEach((id, i) => selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of selfByNode) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") continue;
    total += ms;
    const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules|apps|packages)\//, "$1/")}:${lineNumber + 1}` : "";
    const fn = `${functionName || "(anonymous)"} ${where}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
  }
  // Which of our functions the time in dependencies is spent for: each sample outside our
  // code is charged to the nearest caller of ours ("our fn → area").
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const isOurs = (url: string) => /\/apps\/[^/]+\/src\//.test(url) && !url.includes("/generated/");
  const byCaller = new Map<string, number>();
  for (const [id, ms] of selfByNode) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(idle)" || frame.functionName === "(garbage collector)" || isOurs(frame.url)) continue;
    let up = parent.get(id);
    while (up !== undefined && !isOurs(byId.get(up)!.callFrame.url)) up = parent.get(up);
    if (up === undefined) continue;
    const caller = byId.get(up)!.callFrame;
    const key = `${caller.functionName || "(anonymous)"} ${caller.url.replace(/^.*?\/apps\//, "apps/")}:${caller.lineNumber + 1} → ${areaOf(frame.url, frame.functionName)}`;
    byCaller.set(key, (byCaller.get(key) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, functions: sorted(byFunction), areas: sorted(byArea), callers: sorted(byCaller) };
}

async function main(): Promise<void> {
  if (COMPILED && ensureBuilt()) progress("");
  const dir = await mkdtemp(join(tmpdir(), "switchboard-profile-"));
  const upstream = await spawnHelper(new URL("./upstream.ts", import.meta.url));
  const api = await startBenchApi(
    {
      BETA_MODEL_BASE_URL: upstream.line,
      PROVIDER_ORDER: "beta,template",
      NODE_OPTIONS: `--import ${fileURLToPath(new URL("./cpu-profile.mjs", import.meta.url))}`,
      CPU_PROF_DIR: dir,
      CPU_PROF_ON_SIGNAL: "1",
      CPU_PROF_INTERVAL: process.env.PROFILE_INTERVAL ?? "200",
    },
    { embedded: MODE === "embedded", compiled: COMPILED },
  );
  let cpuMsPerRequest = 0;
  try {
    const body = { model: "auto", messages: [{ role: "user", content: "Say hello" }], ...(STREAM ? { stream: true } : {}) };
    const call = post(`${api.url}/v1/chat/completions`, body, api.auth);
    await runLoad("warm-up", call, { total: WARMUP, concurrency: CONCURRENCY });
    process.kill(api.pid, "SIGUSR2"); // the profile starts here, after start-up and warm-up
    const before = cpuMsOf(api.pid);
    await runLoad("profile", call, { total: REQUESTS, concurrency: CONCURRENCY });
    cpuMsPerRequest = (cpuMsOf(api.pid) - before) / REQUESTS;
    progress("");
  } finally {
    await api.stop(); // SIGTERM: the preload writes the profile
    upstream.stop();
  }
  const file = (await readdir(dir)).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no profile written to ${dir}`);
  const profile = JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
  mapFramesToSources(profile.nodes.map((n) => n.callFrame));
  if (OUT) {
    await mkdir(OUT, { recursive: true });
    await writeFile(join(OUT, `switchboard-${MODE}-${STREAM ? "stream" : "json"}.cpuprofile`), JSON.stringify(profile));
  }
  await rm(dir, { recursive: true, force: true });

  const { total, functions, areas, callers } = summarize(profile);
  const pct = (ms: number) => `${((ms / total) * 100).toFixed(1).padStart(5)}%`;
  console.log(`\nPOST /v1/chat/completions${STREAM ? " (stream)" : ""}, Switchboard ${MODE}${COMPILED ? "" : " (sources through tsx)"}, ${REQUESTS} requests at c=${CONCURRENCY}; node ${process.version}`);
  console.log(`CPU per request (user + system, /proc): ${cpuMsPerRequest.toFixed(3)} ms; profiled busy time ${(total / 1000).toFixed(1)} s\n`);
  console.log("self time by area:");
  for (const [area, ms] of areas.slice(0, 20)) console.log(`  ${pct(ms)}  ${area}`);
  console.log("\ntime outside our code, by the function of ours it ran for (top 15):");
  for (const [fn, ms] of callers.slice(0, 15)) console.log(`  ${pct(ms)}  ${fn}`);
  console.log(`\ntop ${TOP} functions by self time:`);
  for (const [fn, ms] of functions.slice(0, TOP)) console.log(`  ${pct(ms)}  ${fn}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
