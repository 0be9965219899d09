/**
 * Loads Prisma's schema engine (WebAssembly, `@prisma/schema-engine-wasm`) without
 * `--experimental-wasm-modules`.
 *
 * The package's entry point does `import * as wasm from "./schema_engine_bg.wasm"`, which
 * Node 20 refuses without the flag. Its wasm-bindgen glue (`schema_engine_bg.js`) is plain
 * JS, so we import the glue, instantiate the .wasm file ourselves with the glue as the
 * import object, and hand the instance back to the glue — exactly what the entry point
 * does. Works under plain `node --import tsx`, the db scripts and vitest alike.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ErrorCapturingSqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import * as glue from "@prisma/schema-engine-wasm/schema_engine_bg";

export type SchemaEngine = glue.SchemaEngine;

// The "ES2023" lib has no WebAssembly typings (they live in lib.dom); declare what we use.
const { WebAssembly: Wasm } = globalThis as unknown as {
  WebAssembly: {
    instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
  };
};

// One instance per glue module, kept on globalThis: vitest re-evaluates our modules per test
// file while Node caches the (external) glue module, and instantiating twice would swap the
// wasm memory under engines that are still alive.
const registryKey = Symbol.for("switchboard.schemaEngineWasm");
type Registry = WeakMap<object, Promise<void>>;
const registry: Registry = ((globalThis as Record<symbol, unknown>)[registryKey] as Registry | undefined) ??
  ((globalThis as Record<symbol, unknown>)[registryKey] = new WeakMap<object, Promise<void>>());

function ensureLoaded(): Promise<void> {
  let loading = registry.get(glue);
  if (!loading) {
    loading = (async () => {
      const gluePath = createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm/schema_engine_bg");
      const bytes = await readFile(join(dirname(gluePath), "schema_engine_bg.wasm"));
      const { instance } = await Wasm.instantiate(bytes, { "./schema_engine_bg.js": glue });
      glue.__wbg_set_wasm(instance.exports);
      (instance.exports.__wbindgen_start as () => void)();
    })();
    registry.set(glue, loading);
  }
  return loading;
}

// A Rust panic reports its message through this global; without it the panic surfaces as
// an unhelpful "Cannot read properties of undefined (reading 'set_message')".
let lastPanic: string | undefined;
const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };
g.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (message: string) => void (lastPanic = message) };

/** Starts an engine for one schema on one database (connects immediately). */
export async function startSchemaEngine(
  schema: { path: string; content: string },
  factory: ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  onLog: (line: string) => void = () => {},
): Promise<SchemaEngine> {
  await ensureLoaded();
  return glue.SchemaEngine.new({ datamodels: [[schema.path, schema.content]] }, onLog, factory);
}

/**
 * The engine's errors carry a Rust span trace after the message ("\n   0: schema_engine…");
 * keep the human part, and the Prisma error code (P3xxx) when there is one.
 */
export function engineErrorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  let message = error.message.split(/\n\s+0: /)[0]!.trim();
  if (/unreachable|RuntimeError/.test(message) && lastPanic) message = `schema engine panicked: ${lastPanic}`;
  return typeof code === "string" ? `${code}: ${message}` : message;
}
