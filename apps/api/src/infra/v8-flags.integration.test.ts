/**
 * The old generation is collected before it grows far beyond what is live: what keeps a
 * server's RSS flat under load (v8-flags.ts). Runs in a child process, since V8 flags are
 * per process and this one is vitest's.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);
const V8_FLAGS = fileURLToPath(new URL("./v8-flags.ts", import.meta.url));

// ~50 MB that stays, and a churn of objects that live through a few young-generation
// collections (so they are promoted) and then die, like a request's state under load.
const CHURN = `
import v8 from "node:v8";
const flags = process.env.V8_FLAGS ? await import(process.env.V8_FLAGS) : undefined;
const live = Array.from({ length: 40 }, () => Array.from({ length: 13000 }, (_, i) => ({ i, s: "x" + i })));
const ring = new Array(60000);
let peak = 0;
for (let n = 0; n < 900000; n++) {
  ring[n % ring.length] = { n, payload: new Array(64).fill(n), text: "request " + n };
  if (n % 1000 === 0) peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
}
// What was live during the churn (the ring included), measured after one full collection.
if (flags) flags.collectStartupGarbage();
console.log(JSON.stringify({ peak, live: v8.getHeapStatistics().used_heap_size, kept: live.length + ring.length }));
`;

// Holds on Node 20 and 22 (V8 ≤ 12). On Node 24 (V8 13) the same churn still peaks near 4×
// live with this setting, even with Node 20's young-generation size: the cap is not yet
// effective there (docs/performance.md, "Memory"), so the claim is not made for it.
const V8_CAP_HOLDS = Number(process.versions.node.split(".")[0]) < 24;

it.skipIf(!V8_CAP_HOLDS)("collects promoted garbage before the heap grows far past what is live", async () => {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", CHURN], {
    env: { ...process.env, V8_FLAGS },
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
  });
  const { peak, live } = JSON.parse(stdout) as { peak: number; live: number };
  const mb = (b: number) => b / 1048576;
  // Old generation up to 1.5× live, plus the young generation (up to 32 MB) and slack.
  // Default V8 on a large host lets this churn reach ~360 MB over ~85 MB live.
  expect(mb(peak)).toBeLessThan(mb(live) * 1.75 + 48);
}, 60_000);
