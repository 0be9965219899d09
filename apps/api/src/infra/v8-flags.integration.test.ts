/**
 * The heap is collected before it grows far beyond what is live: what keeps a server's RSS
 * flat under load (v8-flags.ts, and the young generation's size from scripts/run-node.sh).
 * Runs in a child process started as the server is, since V8 flags are per process and this
 * one is vitest's.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);
const V8_FLAGS = fileURLToPath(new URL("./v8-flags.ts", import.meta.url));
const RUN_NODE = fileURLToPath(new URL("../../scripts/run-node.sh", import.meta.url));

// ~50 MB that stays, the full collection main.ts runs once start-up is done, then a churn of
// objects that live through a few young-generation collections (so they are promoted) and
// then die, like a request's state under load. It returns to the event loop as a server
// does between requests: V8 13 (Node 24) finishes a full collection's marking in a task
// there, and a loop that never yields runs on until the heap's hard limit.
const CHURN = `
import v8 from "node:v8";
const flags = await import(process.env.V8_FLAGS);
const live = Array.from({ length: 40 }, () => Array.from({ length: 13000 }, (_, i) => ({ i, s: "x" + i })));
flags.collectStartupGarbage();
const ring = new Array(60000);
let peak = 0;
for (let n = 0; n < 900000; n++) {
  ring[n % ring.length] = { n, payload: new Array(64).fill(n), text: "request " + n };
  if (n % 1000 === 0) {
    peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
// What was live during the churn (the ring included), measured after one full collection.
flags.collectStartupGarbage();
console.log(JSON.stringify({ peak, live: v8.getHeapStatistics().used_heap_size, kept: live.length + ring.length }));
`;

/** One churn in a fresh process: its peak heap over what was live, as a ratio. */
async function churnPeakOverLive(): Promise<number> {
  const { stdout } = await run("sh", [RUN_NODE, "--import", "tsx", "--input-type=module", "-e", CHURN], {
    env: { ...process.env, NODE: process.execPath, V8_FLAGS },
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
  });
  const { peak, live } = JSON.parse(stdout) as { peak: number; live: number };
  return peak / live;
}

it("collects promoted garbage before the heap grows far past what is live", async () => {
  // Marking starts once the old generation is 1.5× live; what the churn allocates while it
  // runs alongside comes on top, then the young generation (32 MB) and slack. Measured with
  // ~80 MB live (five runs each): these settings peak at 2.4–2.5× live on Node 20 and
  // 2.7–2.9× on Node 24, whose faster code allocates more while marking runs; without the
  // growth cap the churn reaches 5.2–5.8× on both, and Node 24 without the young-generation
  // cap 3.7–4.2×. On a loaded CI runner one run with the settings has reached 3.37× and
  // another 3.57× on Node 24 (the marking threads starved while the churn went on), so the
  // best of three runs is judged: a missing cap shows in every run, a starved run is one of
  // three. The bound sits between: the settings below, either cap missing above.
  const ratios = [];
  for (let i = 0; i < 3; i++) ratios.push(await churnPeakOverLive());
  expect(Math.min(...ratios), `peak over live in three runs: ${ratios.map((r) => r.toFixed(2)).join(", ")}`).toBeLessThan(3.5);
}, 90_000);
