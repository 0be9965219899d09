/**
 * `npm run build -w @switchboard/api`: bundles the server into apps/api/dist (main.js, the
 * server; migrate.js, the migration step) for plain `node`. Our own code, the generated
 * Prisma client and workspace packages (@switchboard/*) are bundled; every other package
 * stays an import resolved from node_modules at run time, and must then be a production
 * dependency of the api: the build fails naming any that is not, so `npm ci --omit=dev`
 * can never produce an image that crashes on a missing module.
 */
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";

const apiDir = fileURLToPath(new URL("../", import.meta.url));
const manifest = JSON.parse(readFileSync(new URL("package.json", `file://${apiDir}`), "utf8")) as {
  dependencies?: Record<string, string>;
};
const productionDeps = new Set(Object.keys(manifest.dependencies ?? {}));
const builtins = new Set(builtinModules);

/** "@scope/name/sub/path" → "@scope/name"; "name/sub" → "name". */
const packageName = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

const externals: Plugin = {
  name: "externalize-node-modules",
  setup(b) {
    const missing = new Set<string>();
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:") || builtins.has(args.path)) return { path: args.path, external: true };
      if (args.path.startsWith("@switchboard/")) return undefined; // workspace source: bundle it
      const name = packageName(args.path);
      if (!productionDeps.has(name)) missing.add(`${name} (imported by ${args.importer.replace(apiDir, "")})`);
      return { path: args.path, external: true };
    });
    b.onEnd((result) => {
      if (missing.size) {
        result.errors.push({
          id: "",
          pluginName: "externalize-node-modules",
          text: `not a dependency of @switchboard/api (add it to "dependencies"): ${[...missing].join(", ")}`,
          location: null,
          notes: [],
          detail: undefined,
        });
      }
    });
  },
};

// --outdir lets tests build a private copy; it must stay inside the repository, where
// node_modules and prisma/ are found by walking up.
const { values } = parseArgs({ options: { outdir: { type: "string" } } });
const outdir = resolve(apiDir, values.outdir ?? "dist");
await rm(outdir, { recursive: true, force: true });
const started = Date.now();
const result = await build({
  absWorkingDir: apiDir,
  entryPoints: { main: "src/main.ts", migrate: "src/migrate.ts" },
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: "[name]-[hash]",
  platform: "node",
  format: "esm",
  target: "node20.19",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  plugins: [externals],
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`api: ${outdir}/main.js and migrate.js (${(bytes / 1024).toFixed(0)} kB with source maps) in ${Date.now() - started} ms`);
