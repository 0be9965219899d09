/**
 * Preload for benchmarks: `NODE_OPTIONS="--import <this file>"` with MEMORY_PROBE_DIR set
 * makes the process answer SIGUSR2 by writing <pid>.json there (process.memoryUsage() and
 * V8 heap spaces), and with MEMORY_PROBE_SNAPSHOT=1 also <pid>-<n>.heapsnapshot.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import v8 from "node:v8";

const dir = process.env.MEMORY_PROBE_DIR;
if (dir) {
  let n = 0;
  process.on("SIGUSR2", () => {
    n++;
    const usage = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
    writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ n, usage, spaces, heap: v8.getHeapStatistics() }));
    if (process.env.MEMORY_PROBE_SNAPSHOT === "1") v8.writeHeapSnapshot(join(dir, `${process.pid}-${n}.heapsnapshot`));
  });
}
