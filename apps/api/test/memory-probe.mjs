/**
 * Preload for benchmarks: `NODE_OPTIONS="--import <this file>"` with MEMORY_PROBE_DIR set
 * makes the process answer SIGUSR2 by writing <pid>.json there: a counter `n`,
 * process.memoryUsage(), V8's heap spaces (used bytes) and heap statistics. What the reading
 * does first is read from <pid>.request.json when present (and then removed):
 * `{ "gc": true }` runs one full garbage collection before measuring (what is held, not
 * garbage), `{ "snapshot": true }` also writes <pid>-<n>.heapsnapshot after measuring.
 * `gcs` counts the garbage collections since start by kind, with their pause time.
 * `{ "sampling": "start" }` starts V8's sampling heap profiler (every allocation, collected
 * or not); `{ "sampling": "stop" }` writes what it saw to <pid>-<n>.heapprofile.
 * MEMORY_PROBE_SNAPSHOT=1 snapshots on every reading.
 */
import { Session } from "node:inspector";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PerformanceObserver, constants } from "node:perf_hooks";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

const dir = process.env.MEMORY_PROBE_DIR;
if (dir) {
  let n = 0;
  let session;
  // Garbage collections since start, by kind: count and pause time (ms) on the main thread.
  const gcs = {};
  const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: "minor", [constants.NODE_PERFORMANCE_GC_MAJOR]: "major", [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental", [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak callbacks" };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds[e.detail?.kind] ?? "other";
      const g = (gcs[kind] ??= { count: 0, ms: 0 });
      g.count++;
      g.ms += e.duration;
    }
  }).observe({ entryTypes: ["gc"] });
  process.on("SIGUSR2", () => {
    n++;
    const requestFile = join(dir, `${process.pid}.request.json`);
    const request = existsSync(requestFile) ? JSON.parse(readFileSync(requestFile, "utf8")) : {};
    rmSync(requestFile, { force: true });
    if (request.sampling === "start") {
      if (!session) {
        session = new Session();
        session.connect();
        session.post("HeapProfiler.enable");
      }
      // Every sampled allocation counts, including what the next GC frees: what the
      // process allocates per request, not only what it keeps.
      session.post("HeapProfiler.startSampling", { samplingInterval: 16384, includeObjectsCollectedByMajorGC: !request.retained, includeObjectsCollectedByMinorGC: !request.retained });
    }
    let allocations;
    if (request.sampling === "stop") {
      allocations = join(dir, `${process.pid}-${n}.heapprofile`);
      const file = allocations;
      session.post("HeapProfiler.stopSampling", (err, result) => {
        if (!err) writeFileSync(file, JSON.stringify(result.profile));
      });
    }
    if (request.gc) {
      v8.setFlagsFromString("--expose-gc");
      runInNewContext("gc")();
    }
    const usage = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
    const spaceSizes = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
    let snapshot;
    if (request.snapshot || process.env.MEMORY_PROBE_SNAPSHOT === "1") {
      snapshot = join(dir, `${process.pid}-${n}.heapsnapshot`);
      v8.writeHeapSnapshot(snapshot);
    }
    // Written whole, then renamed: a reader never sees half a reading.
    const file = join(dir, `${process.pid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify({ n, usage, spaces, spaceSizes, heap: v8.getHeapStatistics(), gcs, snapshot, allocations }));
    renameSync(`${file}.tmp`, file);
  });
}
