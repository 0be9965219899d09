/**
 * V8 settings applied before anything compiles WebAssembly (imported first by main.ts).
 *
 * Lazy WebAssembly compilation: by default V8 compiles every function of a module up front,
 * and the embedded database (PostgreSQL compiled to WebAssembly, ~9 MB) plus Prisma's query
 * compiler hold tens of megabytes of machine code for functions that never run. Compiled on
 * first call instead, the embedded default keeps ~70 MB less resident; the first query that
 * reaches a new function pays its compilation once.
 *
 * Old-generation growth: after each full collection V8 lets the old generation grow to up to
 * 4× what survived before it collects again (on hosts with 16 GB or more; less on smaller
 * ones). Under load every request promotes a few kB that die soon after, so a cluster
 * instance holding ~50 MB filled up to ~300 MB between collections (bench:memory). Growth
 * capped at 50% (never less than V8's minimum step of a few MB) collects that garbage
 * sooner at no CPU cost bench:memory could measure; 25% held ~15 MB less but cost ~15% CPU
 * per request, 100% saved little. Unlike --max-old-space-size this sets no ceiling, and
 * does not shrink the young generation (which costs throughput). The young generation's
 * size is set on node's command line instead (scripts/run-node.sh, the Dockerfile's CMD):
 * V8 reads it only when it creates the heap, before this module runs.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export const HEAP_GROWING_PERCENT = 50;

setFlagsFromString("--wasm-lazy-compilation");
// Read by V8 whenever it sets the next collection's limit, so setting it here takes effect
// from the start-up collection below on. A value given on node's command line wins.
if (!process.execArgv.some((a) => a.startsWith("--heap-growing-percent") || a.startsWith("--heap_growing_percent"))) {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/**
 * One full garbage collection, for right after start-up. Start-up leaves more garbage than
 * the steady state holds (the embedded database's first-run initdb instance and its
 * WebAssembly memory, migration buffers), and an idle server allocates nothing that would
 * make V8 collect it: without this the embedded default idles at several hundred MB more.
 */
export function collectStartupGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}
