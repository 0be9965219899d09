/**
 * V8 settings applied before anything compiles WebAssembly (imported first by main.ts).
 *
 * Lazy WebAssembly compilation: by default V8 compiles every function of a module up front,
 * and the embedded database (PostgreSQL compiled to WebAssembly, ~9 MB) plus Prisma's query
 * compiler hold tens of megabytes of machine code for functions that never run. Compiled on
 * first call instead, the embedded default keeps ~70 MB less resident; the first query that
 * reaches a new function pays its compilation once.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--wasm-lazy-compilation");

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
