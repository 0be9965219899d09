/**
 * `npm run bench:peers`: Switchboard next to a peer gateway on the same loopback upstream.
 *
 * Installs the Portkey OSS gateway and autocannon from the npm registry into a temporary
 * folder (never into the project's dependencies), then starts, each in its own process:
 * the benchmark upstream (an OpenAI-protocol server), Portkey (`--headless`), Switchboard
 * embedded (PGlite, in-process coordination) and Switchboard cluster (PostgreSQL + Redis on
 * a fresh database and key prefix). Every Switchboard request is signed in, rate limited
 * (limit set high), counted in metrics and passes the emergency gate. "floor" is a bare
 * node:http forwarder (bench/floor-proxy.ts): what any Node gateway adds on this machine;
 * "floor-fastify" the same forwarder as one Fastify route: what the web framework alone adds.
 *
 * "Switchboard embedded" and "Switchboard cluster" run the compiled build (apps/api/dist,
 * what `npm run start:prod` and the Docker image run), built first when it is missing or
 * older than the sources; embedded-src and cluster-src run the sources through tsx
 * (`npm start`), which holds more memory (tsx's compiler and source maps).
 *
 * For each target and each round, interleaved (so a noisy moment hits every target alike),
 * after the machine has gone quiet (bench/settle.ts), in an order that alternates round by
 * round (bench/round-order.ts: over an even number of rounds every target goes before every
 * other one as often as after it; where a target stands moves its figures):
 *   c=1   sequential keep-alive requests for BENCH_SECONDS (after the warm-up below), each timed with hrtime
 *         (autocannon's histogram keeps whole milliseconds, too coarse for a loopback hop);
 *         streams also time the first content token (TTFT);
 *   c=32  autocannon for BENCH_SECONDS: requests per second, non-stream and stream.
 * Every figure is the median over BENCH_ROUNDS rounds; "added" is over the direct upstream.
 *
 * A change's effect on these figures is read from one run, not from two runs on a machine
 * whose speed drifts: the cluster-base and embedded-base targets run another checkout's
 * compiled build (BENCH_BASE=<checkout>/apps/api, built with `node --import tsx
 * scripts/build.ts`) interleaved with the others, and the report compares each with its
 * counterpart from this checkout, over all rounds and apart by which of the two went first.
 *
 * Each c=1 measurement follows BENCH_WARMUP_SECONDS of the same traffic, timed apart and
 * shown in its own column: a process runs its first seconds of sequential traffic after a
 * pause (or after another target's c=32 load) slower than the rest.
 *
 * Knobs: BENCH_ROUNDS (4; keep it even), BENCH_SECONDS (6), BENCH_WARMUP_SECONDS (2; 0 times c=1 from the
 * first request), BENCH_TARGETS (direct,floor,portkey,embedded,cluster;
 * also floor-fastify, embedded-src, cluster-src, embedded-base and cluster-base), BENCH_BASE,
 * BENCH_PLACEMENT (shared | apart: bench/placement.ts),
 * BENCH_PEERS_DIR (install folder, reused when it already holds these versions),
 * TEST_DATABASE_URL, REDIS_URL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { loadavg } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "../test/ports.ts";
import { cpuMsOf, rssMbOf } from "../test/proc.ts";
import { autocannon, installPeers, PEERS_DIR, PORTKEY_VERSION } from "./autocannon.ts";
import { ensureBuilt, percentile, progress, spawnHelper, startBenchApi, type BenchApi } from "./load.ts";
import { placeGateway, placeHarness, placementLine } from "./placement.ts";
import { roundOrder, roundsWithFirst } from "./round-order.ts";
import { settle } from "./settle.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1)) throw new Error(`BENCH_ROUNDS must be a whole number of rounds, 1 or more (got ${process.env.BENCH_ROUNDS})`);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
if (!(WARMUP >= 0)) throw new Error(`BENCH_WARMUP_SECONDS must be a number of seconds, 0 or more (got ${process.env.BENCH_WARMUP_SECONDS})`);
const TARGETS = (process.env.BENCH_TARGETS ?? "direct,floor,portkey,embedded,cluster").split(",");
const BASE = process.env.BENCH_BASE;
const MESSAGES = [{ role: "user", content: "Say hello" }];

interface Target {
  name: string;
  label: string;
  url: string;
  headers: Record<string, string>;
  model: string;
  pid: number;
  rssIdleMb: number;
  stop(): Promise<void> | void;
}

interface Sample {
  /** c=1 mean over the warm-up: the first seconds of sequential traffic after a pause. */
  c1FirstMean: number;
  c1Mean: number;
  c1P50: number;
  ttftMean: number;
  ttftP50: number;
  streamMean: number;
  rps: number;
  streamRps: number;
  /** The target's CPU per request at c=32, µs (non-stream, stream). */
  cpuUs: number;
  streamCpuUs: number;
}

/**
 * Loaded into Portkey's process. (1) Portkey listens on every interface and has no flag to
 * change that: listen() binds loopback only. (2) Streams: @hono/node-server's lightweight
 * Response keeps the upstream fetch Response's immutable Headers when Portkey wraps it, so
 * Portkey's header update throws "immutable" and every streamed request answers 500 (seen
 * with @hono/node-server 1.19 on Node 20 and 24). Event streams get a copy with mutable
 * headers; JSON answers are left exactly as they were, so non-stream figures are untouched.
 */
const PORTKEY_PRELOAD = `const upstreamFetch = globalThis.fetch;
const UndiciResponse = globalThis.Response;
globalThis.fetch = async (...args) => {
  const res = await upstreamFetch(...args);
  if (!res.headers.get("content-type")?.startsWith("text/event-stream")) return res;
  return new UndiciResponse(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
};
import net from "node:net";
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number") {
    if (typeof args[1] === "function") args.splice(1, 0, "127.0.0.1");
    else if (args[1] === undefined || args[1] === "0.0.0.0" || args[1] === "::") args[1] = "127.0.0.1";
  } else if (args[0] && typeof args[0] === "object" && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
`;

async function startPortkey(upstreamUrl: string): Promise<Omit<Target, "rssIdleMb">> {
  const preload = join(PEERS_DIR, "portkey-preload.mjs");
  await writeFile(preload, PORTKEY_PRELOAD);
  const port = await freeLoopbackPort();
  const bin = join(PEERS_DIR, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
  const child: ChildProcess = spawn(process.execPath, ["--import", preload, bin, `--port=${port}`, "--headless"], {
    cwd: PEERS_DIR,
    env: { PATH: process.env.PATH, NODE_ENV: "production" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Portkey exited with code ${child.exitCode}`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error("Portkey did not answer within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: "portkey",
    label: `Portkey OSS gateway ${PORTKEY_VERSION} (--headless)`,
    url: `${url}/v1/chat/completions`,
    // Portkey's own way to reach an OpenAI-compatible server at a custom address.
    headers: { "x-portkey-provider": "openai", "x-portkey-custom-host": upstreamUrl, authorization: "Bearer unused" },
    model: "beta",
    pid: child.pid!,
    stop: () => void child.kill("SIGTERM"),
  };
}

function switchboardTarget(name: string, label: string, api: BenchApi): Omit<Target, "rssIdleMb"> {
  return { name, label, url: `${api.url}/v1/chat/completions`, headers: api.auth, model: "auto", pid: api.pid, stop: api.stop };
}

const bodyOf = (target: Target, stream: boolean) => JSON.stringify({ model: target.model, messages: MESSAGES, ...(stream ? { stream: true } : {}) });

/** One request on a keep-alive agent: total time and time to the first content token (ms). */
function timed(agent: Agent, target: Target, body: string): Promise<{ total: number; ttft: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = request(
      target.url,
      { method: "POST", agent, headers: { ...target.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        let seen = "";
        let ttft = 0;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (ttft) return;
          seen += chunk;
          if (/"content":"[^"]/.test(seen)) ttft = ms();
        });
        res.on("end", () => {
          const total = ms();
          if (res.statusCode !== 200) reject(new Error(`${target.name} answered ${res.statusCode}: ${seen.slice(0, 300)}`));
          else resolve({ total, ttft: ttft || total });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Sequential requests: first WARMUP seconds that are timed but kept apart (their mean is
 * the "first seconds after a pause" figure), then `seconds` whose latencies (and TTFTs, in
 * ms) are the measurement. A process that was idle or shared the machine with another
 * target's c=32 load runs its first seconds of sequential traffic slower (docs/performance.md,
 * "Right after a pause"); the warm-up keeps that transient out of the steady figure and shows
 * it next to it.
 */
async function sequential(target: Target, stream: boolean, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = bodyOf(target, stream);
  const timedFor = async (s: number) => {
    const totals: number[] = [];
    const ttfts: number[] = [];
    const until = performance.now() + s * 1000;
    while (performance.now() < until) {
      const { total, ttft } = await timed(agent, target, body);
      totals.push(total);
      ttfts.push(ttft);
    }
    return { totals, ttfts };
  };
  try {
    const warm = await timedFor(WARMUP);
    const { totals, ttfts } = await timedFor(seconds);
    return { totals: totals.sort((a, b) => a - b), ttfts: ttfts.sort((a, b) => a - b), warmMean: warm.totals.length > 0 ? mean(warm.totals) : NaN };
  } finally {
    agent.destroy();
  }
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

/** autocannon at concurrency 32: requests per second (every answer must be a 200). */
/**
 * Requests per second at c=32, and the target's own CPU time per request over that load (µs,
 * user + system from /proc): a machine that runs slower for a while lowers every target's
 * req/s, but hardly what one request costs the process that serves it, so the CPU figure
 * tells two builds apart where req/s is drowned in the machine's drift.
 */
async function throughput(target: Target, stream: boolean, seconds: number): Promise<{ rps: number; cpuUs: number }> {
  const cpuBefore = cpuMsOf(target.pid);
  const { rps, total } = await autocannon(target.url, target.headers, bodyOf(target, stream), seconds);
  return { rps, cpuUs: total > 0 ? ((cpuMsOf(target.pid) - cpuBefore) * 1000) / total : NaN };
}

async function sample(target: Target, seconds: number): Promise<Sample> {
  progress(`[bench] ${target.name}: c=1`);
  const plain = await sequential(target, false, seconds);
  progress(`[bench] ${target.name}: c=1 stream`);
  const streamed = await sequential(target, true, seconds);
  progress(`[bench] ${target.name}: c=32`);
  const none = { rps: NaN, cpuUs: NaN };
  const plainLoad = target.name === "direct" ? none : await throughput(target, false, seconds);
  progress(`[bench] ${target.name}: c=32 stream`);
  const streamLoad = target.name === "direct" ? none : await throughput(target, true, seconds);
  return {
    c1FirstMean: plain.warmMean,
    c1Mean: mean(plain.totals),
    c1P50: percentile(plain.totals, 50),
    ttftMean: mean(streamed.ttfts),
    ttftP50: percentile(streamed.ttfts, 50),
    streamMean: mean(streamed.totals),
    rps: plainLoad.rps,
    streamRps: streamLoad.rps,
    cpuUs: plainLoad.cpuUs,
    streamCpuUs: streamLoad.cpuUs,
  };
}

const median = (values: number[]) => {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  await installPeers();
  // Before anything is spawned: children (the upstream, autocannon) start where the harness runs.
  placeHarness();
  const upstream = await spawnHelper(new URL("./upstream.ts", import.meta.url));
  const targets: Target[] = [];
  const add = (t: Omit<Target, "rssIdleMb">) => {
    if (t.name !== "direct") placeGateway(t.pid);
    targets.push({ ...t, rssIdleMb: rssMbOf(t.pid) });
  };
  try {
    const providerEnv = { BETA_MODEL_BASE_URL: upstream.line, PROVIDER_ORDER: "beta,template" };
    for (const name of TARGETS) {
      progress(`[bench] starting ${name}`);
      if (name === "direct") {
        add({ name, label: "fake upstream direct", url: `${upstream.line}/chat/completions`, headers: {}, model: "beta", pid: upstream.pid, stop: () => {} });
      } else if (name === "floor" || name === "floor-fastify") {
        const fastify = name === "floor-fastify";
        const floor = await spawnHelper(new URL("./floor-proxy.ts", import.meta.url), [upstream.line, ...(fastify ? ["--fastify"] : [])]);
        const label = fastify ? "the same forwarder as one Fastify route" : "node:http forwarder (floor, no gateway work)";
        add({ name, label, url: `${floor.line}/chat/completions`, headers: {}, model: "beta", pid: floor.pid, stop: floor.stop });
      } else if (name === "portkey") {
        add(await startPortkey(upstream.line));
      } else if (/^(embedded|cluster)(-src|-base)?$/.test(name)) {
        const embedded = name.startsWith("embedded");
        const base = name.endsWith("-base");
        const compiled = !name.endsWith("-src");
        if (base && !BASE) throw new Error(`the ${name} target needs BENCH_BASE=<another checkout>/apps/api (built with \`node --import tsx scripts/build.ts\`)`);
        if (compiled && !base && ensureBuilt()) progress("");
        const label = `Switchboard ${embedded ? "embedded (PGlite)" : "cluster (PostgreSQL + Redis)"}${compiled ? "" : ", sources through tsx"}${base ? ", base build" : ""}`;
        add(switchboardTarget(name, label, await startBenchApi(providerEnv, { embedded, compiled, ...(base ? { apiDir: BASE } : {}) })));
      } else {
        throw new Error(`Unknown target ${name} (BENCH_TARGETS takes direct,floor,floor-fastify,portkey,embedded,cluster,embedded-src,cluster-src,embedded-base,cluster-base)`);
      }
    }
    // Warm-up (JIT, connection pools, first lease of the rate limit), not measured.
    for (const target of targets) await sample(target, 1);

    const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
    const waits: Array<{ waitedMs: number; quiet: boolean }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of roundOrder(targets, round)) {
        progress(`[bench] round ${round + 1}/${ROUNDS} ${target.name}: waiting for the machine to settle`);
        waits.push(await settle());
        progress(`[bench] round ${round + 1}/${ROUNDS} ${target.name}`);
        samples.get(target.name)!.push(await sample(target, SECONDS));
      }
    }
    progress("");
    report(targets, samples, waits);
  } finally {
    for (const target of targets) await target.stop();
    upstream.stop();
  }
}

function report(targets: Target[], samples: Map<string, Sample[]>, waits: Array<{ waitedMs: number; quiet: boolean }>): void {
  /** The median over every round, or over the rounds listed. */
  const med = (name: string, key: keyof Sample, rounds?: number[]) => median(samples.get(name)!.filter((_, round) => !rounds || rounds.includes(round)).map((s) => s[key]));
  const direct = targets.some((t) => t.name === "direct") ? { c1: med("direct", "c1Mean"), first: med("direct", "c1FirstMean"), ttft: med("direct", "ttftMean") } : null;
  const floor = targets.some((t) => t.name === "floor") ? med("floor", "c1Mean") : NaN;
  const portkeyRps = targets.some((t) => t.name === "portkey") ? { plain: med("portkey", "rps"), stream: med("portkey", "streamRps") } : null;
  const f = (v: number, digits = 3) => (Number.isNaN(v) ? "—" : v.toFixed(digits));
  const ms = (v: number) => (Number.isNaN(v) ? "—" : `${v.toFixed(3)} ms`);
  const plus = (v: number) => (Number.isNaN(v) ? "—" : `${v >= 0 ? "+" : ""}${v.toFixed(3)} ms`);
  const ratio = (v: number, of: number | undefined) => (of && !Number.isNaN(v) ? ` (${(v / of).toFixed(2)}×)` : "");

  console.log(`\nbench:peers — POST /v1/chat/completions, median of ${ROUNDS} interleaved rounds of ${SECONDS} s per measurement, the order alternating round by round`);
  const waited = waits.map((w) => w.waitedMs);
  const noisy = waits.filter((w) => !w.quiet).length;
  console.log(
    `waited for the machine to settle before each measurement: ${(median(waited) / 1000).toFixed(2)} s median, ${(Math.max(...waited) / 1000).toFixed(2)} s at most; ${noisy === 0 ? "quiet every time" : `${noisy} of ${waits.length} measured without a quiet moment (gave up after 5 s)`}`,
  );
  console.log(`node ${process.version}; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(placementLine());
  const built = targets.some((t) => /^(embedded|cluster)$/.test(t.name));
  const sources = targets.some((t) => t.name.endsWith("-src"));
  if (built) console.log("Switchboard embedded / cluster: the compiled build (apps/api/dist, as `npm run start:prod` and the Docker image run it)");
  if (sources) console.log("…, sources through tsx: `node --import tsx src/main.ts`, as `npm start` runs it");
  if (targets.some((t) => t.name.endsWith("-base"))) console.log(`…, base build: ${BASE}/dist, another checkout's compiled build`);
  console.log("");
  console.log(
    WARMUP > 0
      ? `c=1 figures follow ${WARMUP} s of the same sequential traffic; "first ${WARMUP} s" is that warm-up's own mean (right after the pause or another target's load)`
      : "c=1 figures are timed from the first request after the pause (no warm-up)",
  );
  console.log("");
  console.log(`| target | c=1 p50 | c=1 mean | mean added over direct | c=1 mean, first ${WARMUP} s (added) | stream TTFT p50 | TTFT mean added | c=32 req/s (× Portkey) | c=32 stream req/s (× Portkey) | RSS idle | RSS after load |`);
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const t of targets) {
    const c1 = med(t.name, "c1Mean");
    const ttft = med(t.name, "ttftMean");
    const rps = med(t.name, "rps");
    const streamRps = med(t.name, "streamRps");
    const isDirect = t.name === "direct";
    const first = med(t.name, "c1FirstMean");
    const firstAdded = isDirect || !direct || Number.isNaN(first) ? "" : ` (${plus(first - direct.first)})`;
    console.log(
      `| ${t.label} | ${ms(med(t.name, "c1P50"))} | ${ms(c1)} | ${isDirect || !direct ? "—" : plus(c1 - direct.c1)} | ${ms(first)}${firstAdded} | ${ms(med(t.name, "ttftP50"))} | ${isDirect || !direct ? "—" : plus(ttft - direct.ttft)} | ${f(rps, 0)}${t.name === "portkey" ? "" : ratio(rps, portkeyRps?.plain)} | ${f(streamRps, 0)}${t.name === "portkey" ? "" : ratio(streamRps, portkeyRps?.stream)} | ${f(t.rssIdleMb, 0)} MB | ${f(rssMbOf(t.pid), 0)} MB |`,
    );
  }
  const loaded = targets.filter((t) => t.name !== "direct");
  console.log(`\nCPU per request at c=32, each target's own process (µs; non-stream / stream): ${loaded.map((t) => `${t.name} ${f(med(t.name, "cpuUs"), 0)} / ${f(med(t.name, "streamCpuUs"), 0)}`).join(", ")}`);
  const paired = targets.filter((t) => t.name.endsWith("-base") && samples.has(t.name.slice(0, -"-base".length)));
  if (paired.length > 0) console.log("\nThis checkout against the base build (same run, interleaved; then apart by which of the two went first in a round):");
  if (paired.length > 0 && ROUNDS % 2 === 1) console.log("  (an odd BENCH_ROUNDS: one order has a round more than the other)");
  for (const base of paired) {
    const name = base.name.slice(0, -"-base".length);
    const line = (rounds?: number[]) => {
      const diff = (key: keyof Sample) => plus(med(name, key, rounds) - med(base.name, key, rounds));
      const times = (key: keyof Sample) => `${(med(name, key, rounds) / med(base.name, key, rounds)).toFixed(2)}×`;
      const cpu = (key: "cpuUs" | "streamCpuUs") => `${f(med(name, key, rounds), 0)} vs ${f(med(base.name, key, rounds), 0)} µs (${times(key)})`;
      return `c=1 mean ${diff("c1Mean")}, c=1 first ${WARMUP} s ${diff("c1FirstMean")}, TTFT mean ${diff("ttftMean")}, c=32 req/s ${times("rps")}, stream req/s ${times("streamRps")}; CPU per request at c=32 ${cpu("cpuUs")}, stream ${cpu("streamCpuUs")}`;
    };
    const rss = `${rssMbOf(targets.find((t) => t.name === name)!.pid).toFixed(0)} vs ${rssMbOf(base.pid).toFixed(0)} MB`;
    const target = (n: string) => targets.find((t) => t.name === n)!;
    const checkoutFirst = roundsWithFirst(targets, ROUNDS, target(name), base);
    const baseFirst = roundsWithFirst(targets, ROUNDS, base, target(name));
    console.log(`  ${name}: ${line()}, RSS after load ${rss}`);
    if (checkoutFirst.length > 0) console.log(`    this checkout first (${checkoutFirst.length} rounds): ${line(checkoutFirst)}`);
    if (baseFirst.length > 0) console.log(`    base build first (${baseFirst.length} rounds): ${line(baseFirst)}`);
  }
  if (!Number.isNaN(floor) && samples.has("floor-fastify")) {
    const overFloor = (key: keyof Sample) => plus(med("floor-fastify", key) - med("floor", key));
    console.log(`\nFastify alone (the forwarder as one Fastify route, over the bare one): c=1 mean ${overFloor("c1Mean")}, c=1 first ${WARMUP} s ${overFloor("c1FirstMean")}, TTFT mean ${overFloor("ttftMean")}`);
  }
  if (!direct || !portkeyRps) return;
  console.log("\nGoals (ratios from this run):");
  for (const name of [...samples.keys()].filter((n) => /^(embedded|cluster)/.test(n) && !n.endsWith("-base"))) {
    const added = med(name, "c1Mean") - direct.c1;
    const ttftAdded = med(name, "ttftMean") - direct.ttft;
    const rssNow = rssMbOf(targets.find((t) => t.name === name)!.pid);
    const rssGoal = name.startsWith("cluster") ? 200 : 300;
    const check = (ok: boolean) => (ok ? "met" : "NOT met");
    const overFloor = Number.isNaN(floor) ? "" : ` (${plus(med(name, "c1Mean") - floor)} over the floor's ${plus(floor - direct.c1)})`;
    // The goal's figure is the steady one; the first seconds after a pause are judged beside it, never folded in.
    const firstAdded = med(name, "c1FirstMean") - direct.first;
    const first = Number.isNaN(firstAdded) ? "" : `; in the first ${WARMUP} s after a pause ${plus(firstAdded)} (≤ 0.5 ms: ${check(firstAdded <= 0.5)})`;
    const steady = WARMUP > 0 ? " (steady, after the warm-up)" : "";
    console.log(`  ${name}: mean added at c=1${steady} ${plus(added)}${overFloor} (≤ 0.5 ms: ${check(added <= 0.5)})${first}; TTFT added ${plus(ttftAdded)} (≤ 1 ms: ${check(ttftAdded <= 1)}); RSS ${rssNow.toFixed(0)} MB (≤ ${rssGoal} MB: ${check(rssNow <= rssGoal)})`);
  }
  for (const name of [...samples.keys()].filter((n) => n.startsWith("cluster") && !n.endsWith("-base"))) {
    const r = med(name, "rps") / portkeyRps.plain;
    console.log(`  ${name} c=32: ${r.toFixed(2)}× Portkey's req/s (≥ 4×: ${r >= 4 ? "met" : "NOT met"})`);
  }
}

await main();
