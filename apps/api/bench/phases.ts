/**
 * `npm run bench:phases`: where a proxied chat completion's time goes at c=1, phase by
 * phase, in Switchboard and in the floor (a bare node:http forwarder, bench/floor-proxy.ts)
 * measured the same way in the same run.
 *
 * Each process is started with bench/phase-timer.mjs preloaded, which times from the
 * outside, with no change to the server's code: the request arriving → the upstream request
 * ended ("before upstream": everything the gateway does before it calls out) → the
 * upstream's answer read ("upstream": the second loopback hop and the upstream's own work)
 * → the response ended ("after upstream"). "Own" is before + after: the gateway's share of
 * the critical path, which is what the c=1 latency goal is about once the floor's share is
 * taken out. The client times the whole request with hrtime as bench:peers does. The two
 * loopback writes are timed on their own (the upstream request's, inside "upstream"; the
 * answer's `res.end()`, inside the gap before the next request): on loopback a write also
 * delivers the bytes and wakes the reader, so its time is mostly the kernel's.
 *
 * Knobs: PHASES_ROUNDS (3), PHASES_REQUESTS per round and target (3000), PHASES_TARGETS
 * (floor,cluster,embedded; `floor-fastify` adds the floor as one Fastify route, what the
 * framework alone costs; `base` adds a cluster run from another checkout's compiled
 * apps/api named by PHASES_BASE, for a paired before/after check of a change), BENCH_PLACEMENT
 * (shared | apart: bench/placement.ts).
 */
import { Agent, request } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt, percentile, progress, spawnHelper, startBenchApi } from "./load.ts";
import { placeGateway, placeHarness, placementLine } from "./placement.ts";

const ROUNDS = Number(process.env.PHASES_ROUNDS ?? 3);
const REQUESTS = Number(process.env.PHASES_REQUESTS ?? 3000);
const TARGETS = (process.env.PHASES_TARGETS ?? "floor,cluster,embedded").split(",");
const TIMER = fileURLToPath(new URL("./phase-timer.mjs", import.meta.url));
const PHASES = [
  "before upstream",
  "upstream",
  "  of which end() → write",
  "  of which the request's write",
  "after upstream",
  "own (before + after)",
  "in the process (arrived → answered)",
  "gap (answered → next arrived)",
  "  of which the answer's write (res.end)",
  "client total",
] as const;

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  out: string;
  stop(): Promise<void> | void;
}

const bodyFor = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "Say hello" }] });

function timed(agent: Agent, target: Target): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request(
      target.url,
      { method: "POST", agent, headers: { ...target.headers, "content-type": "application/json", "content-length": Buffer.byteLength(target.body) } },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1000) : reject(new Error(`${target.name} answered ${res.statusCode}`))));
      },
    );
    req.on("error", reject);
    req.end(target.body);
  });
}

/** One round: REQUESTS sequential requests; returns the client's totals (µs). */
async function round(target: Target): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const totals: number[] = [];
  try {
    for (let i = 0; i < REQUESTS; i++) totals.push(await timed(agent, target));
  } finally {
    agent.destroy();
  }
  return totals;
}

/** Every row the timer has written so far: [sent, headers, body, answered] µs after arrival, the gap since the previous answer (null when there was none or it was a pause), then when the upstream request got its socket, when its write returned, and when the answer's end() returned (µs after arrival). */
async function rowsOf(target: Target): Promise<Array<Array<number | null>>> {
  const text = await readFile(target.out, "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).flatMap((line) => JSON.parse(line) as Array<Array<number | null>>);
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const median = (values: number[]) => sorted(values)[Math.floor((values.length - 1) / 2)]!;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-phases-"));
  placeHarness();
  const upstream = await spawnHelper(new URL("./upstream.ts", import.meta.url));
  const targets: Target[] = [];
  try {
    for (const name of TARGETS) {
      progress(`[bench] starting ${name}`);
      const out = join(dir, `${name}.jsonl`);
      const timerEnv = { PHASE_TIMER_OUT: out, PHASE_TIMER_BATCH: "100" };
      if (name === "floor" || name === "floor-fastify") {
        const args = [upstream.line, ...(name === "floor-fastify" ? ["--fastify"] : [])];
        const floor = await spawnHelper(new URL("./floor-proxy.ts", import.meta.url), args, { nodeArgs: ["--import", TIMER], env: timerEnv });
        placeGateway(floor.pid);
        targets.push({ name, url: `${floor.line}/chat/completions`, headers: {}, body: bodyFor("beta"), out, stop: floor.stop });
      } else if (name === "cluster" || name === "embedded" || name === "base") {
        if (name === "base" && !process.env.PHASES_BASE) throw new Error("the base target needs PHASES_BASE=<another checkout>/apps/api (built)");
        if (name !== "base" && ensureBuilt()) progress("");
        const api = await startBenchApi(
          { BETA_MODEL_BASE_URL: upstream.line, PROVIDER_ORDER: "beta,template", ...timerEnv },
          { embedded: name === "embedded", compiled: true, nodeArgs: ["--import", TIMER], ...(name === "base" ? { apiDir: process.env.PHASES_BASE } : {}) },
        );
        placeGateway(api.pid);
        targets.push({ name, url: `${api.url}/v1/chat/completions`, headers: api.auth, body: bodyFor("auto"), out, stop: api.stop });
      } else {
        throw new Error(`Unknown target ${name} (PHASES_TARGETS takes floor,floor-fastify,cluster,embedded,base)`);
      }
    }
    // Warm-up (JIT, pools, the first rate-limit lease); its rows are dropped below.
    const warm = new Map<string, number>();
    for (const target of targets) {
      progress(`[bench] warming up ${target.name}`);
      await round(target);
      warm.set(target.name, (await rowsOf(target)).length);
    }
    const perRound = new Map<string, Array<Record<(typeof PHASES)[number], { p50: number; mean: number }>>>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      // Rotating the order spreads any drift in machine load across targets.
      for (const target of targets.map((_, i) => targets[(i + r) % targets.length]!)) {
        progress(`[bench] round ${r + 1}/${ROUNDS} ${target.name}`);
        const before = (await rowsOf(target)).length;
        const totals = await round(target);
        // The timer writes batches of 100 rows: a round's last few may be counted with the
        // same target's next round, which is measured the same way.
        const rows = (await rowsOf(target)).slice(Math.max(before, warm.get(target.name)!));
        const phase = {
          "before upstream": rows.map(([sent]) => sent!),
          upstream: rows.map(([sent, , body]) => body! - sent!),
          "  of which end() → write": rows.map(([sent, , , , , write]) => write! - sent!),
          "  of which the request's write": rows.map(([, , , , , write, written]) => written! - write!),
          "after upstream": rows.map(([, , body, answered]) => answered! - body!),
          "own (before + after)": rows.map(([sent, , body, answered]) => sent! + answered! - body!),
          "in the process (arrived → answered)": rows.map(([, , , answered]) => answered!),
          "gap (answered → next arrived)": rows.flatMap(([, , , , gap]) => (gap === null || gap === undefined ? [] : [gap])),
          "  of which the answer's write (res.end)": rows.map(([, , , answered, , , , answerWritten]) => answerWritten! - answered!),
          "client total": totals,
        };
        const stats = Object.fromEntries(Object.entries(phase).map(([k, v]) => [k, { p50: percentile(sorted(v), 50), mean: mean(v) }]));
        perRound.get(target.name)!.push(stats as Record<(typeof PHASES)[number], { p50: number; mean: number }>);
      }
    }
    progress("");
    report(targets, perRound);
  } finally {
    for (const target of targets) await target.stop();
    upstream.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function report(targets: Target[], perRound: Map<string, Array<Record<(typeof PHASES)[number], { p50: number; mean: number }>>>): void {
  const med = (name: string, phase: (typeof PHASES)[number], key: "p50" | "mean") => median(perRound.get(name)!.map((s) => s[phase][key]));
  console.log(`\nPOST /v1/chat/completions at c=1, µs (p50 / mean; median of ${ROUNDS} interleaved rounds of ${REQUESTS} requests); node ${process.version}`);
  console.log(`${placementLine()}\n`);
  console.log(`| phase | ${targets.map((t) => t.name).join(" | ")} |`);
  console.log(`|---|${targets.map(() => "---|").join("")}`);
  for (const phase of PHASES) {
    console.log(`| ${phase} | ${targets.map((t) => `${med(t.name, phase, "p50").toFixed(0)} / ${med(t.name, phase, "mean").toFixed(0)}`).join(" | ")} |`);
  }
  if (targets.some((t) => t.name === "floor")) {
    const floorOwn = med("floor", "own (before + after)", "mean");
    for (const t of targets.filter((x) => x.name !== "floor")) {
      const own = med(t.name, "own (before + after)", "mean");
      console.log(`\n${t.name}: own share of the critical path ${own.toFixed(0)} µs mean, ${(own - floorOwn).toFixed(0)} µs over the floor's ${floorOwn.toFixed(0)} µs`);
    }
  }
}

await main();
process.exit(0);
