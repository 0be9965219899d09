/**
 * `npm run build -w @switchboard/client`: the publishable package in dist/.
 *
 * - dist/index.js — the client (ESM); @trpc/client and eventsource stay dependencies (yaml
 *   too, for the CLI's documents), workspace code (@switchboard/schema) is bundled.
 * - dist/cli.js — the `switchboard` command.
 * - dist/package.json, README.md — dist/ is the package (`npm pack ./dist`, `npm publish ./dist`).
 * - dist/index.d.ts — the client's declarations with the server's AppRouter type written
 *   out in full. The router's type is read with the TypeScript checker and printed as plain
 *   data types (each procedure's input, output and the error shape), so a consumer's tsc
 *   never sees a server file, a Prisma type or the server's context: only @trpc/server's
 *   public procedure types. Named aliases the checker keeps (e.g. `TEmergencyScope`) are
 *   written out as local aliases. The result is compiled alone before it is written; a type
 *   that cannot be resolved that way fails the build.
 */
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import ts from "typescript";

const clientDir = fileURLToPath(new URL("../", import.meta.url));
const repoRoot = join(clientDir, "../../");
const outdir = join(clientDir, "dist");
const manifest = JSON.parse(readFileSync(join(clientDir, "package.json"), "utf8")) as {
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const allowed = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
const builtins = new Set(builtinModules);

const externals: Plugin = {
  name: "externalize-dependencies",
  setup(b) {
    const missing = new Set<string>();
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:") || builtins.has(args.path)) return { path: args.path, external: true };
      if (args.path.startsWith("@switchboard/")) return undefined;
      const name = args.path.split("/").slice(0, args.path.startsWith("@") ? 2 : 1).join("/");
      if (!allowed.has(name)) missing.add(name);
      return { path: args.path, external: true };
    });
    b.onEnd((result) => {
      if (missing.size) {
        result.errors.push({ id: "", pluginName: "externalize-dependencies", text: `not a dependency of @switchboard/client: ${[...missing].join(", ")}`, location: null, notes: [], detail: undefined });
      }
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

await build({
  absWorkingDir: clientDir,
  entryPoints: { index: "src/index.ts", cli: "src/cli/bin.ts" },
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: "[name]-[hash]",
  platform: "node",
  format: "esm",
  target: "es2022",
  define: { SWITCHBOARD_CLIENT_VERSION: JSON.stringify(manifest.version) },
  banner: { js: "" },
  logLevel: "warning",
  plugins: [externals],
});
// The command needs its shebang (esbuild keeps a source shebang only on the entry itself).
const cliPath = join(outdir, "cli.js");
await writeFile(cliPath, `#!/usr/bin/env node\n${readFileSync(cliPath, "utf8")}`, { mode: 0o755 });

// ---- declarations ----
const baseOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2023,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  strict: true,
  skipLibCheck: true,
  allowImportingTsExtensions: true,
  resolveJsonModule: true,
  types: ["node"],
};

const apiEntry = join(repoRoot, "apps/api/src/index.ts");
const apiProgram = ts.createProgram([apiEntry], { ...baseOptions, noEmit: true });
const checker = apiProgram.getTypeChecker();
const printFlags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias | ts.TypeFormatFlags.UseStructuralFallback;

/** The AppRouter type as plain TypeScript: procedures with their inputs and outputs. */
function printAppRouter(): string {
  const source = apiProgram.getSourceFile(apiEntry)!;
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).find((s) => s.name === "AppRouter");
  if (!exported) throw new Error("apps/api/src/index.ts exports no AppRouter");
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const router = checker.getDeclaredTypeOfSymbol(symbol);
  const prop = (type: ts.Type, name: string) => {
    const p = checker.getPropertyOfType(type, name);
    return p ? checker.getTypeOfSymbol(p) : undefined;
  };
  const print = (type: ts.Type) => checker.typeToString(type, undefined, printFlags);
  const def = prop(router, "_def")!;
  const errorShape = print(prop(prop(prop(def, "_config")!, "$types")!, "errorShape")!);

  const printRecord = (record: ts.Type, indent: string): string => {
    const lines = checker.getPropertiesOfType(record).map((p) => {
      const type = checker.getTypeOfSymbol(p);
      const procDef = prop(type, "_def");
      const kind = procDef && prop(procDef, "type");
      const key = /^[A-Za-z_$][\w$]*$/.test(p.name) ? p.name : JSON.stringify(p.name);
      if (kind && kind.isStringLiteral()) {
        const types = prop(procDef, "$types")!;
        const name = { query: "TRPCQueryProcedure", mutation: "TRPCMutationProcedure", subscription: "TRPCSubscriptionProcedure" }[kind.value];
        return `${indent}${key}: ${name}<{ input: ${print(prop(types, "input")!)}; output: ${print(prop(types, "output")!)}; meta: object; errorShape: AppErrorShape }>;`;
      }
      return `${indent}${key}: {\n${printRecord(type, `${indent}  `)}\n${indent}};`;
    });
    return lines.join("\n");
  };
  const record = printRecord(prop(def, "record")!, "  ");
  return [
    `import type { TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODE_NUMBER, TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCSubscriptionProcedure } from "@trpc/server";`,
    `/** The error shape every procedure answers with (error.data carries appCode, zodError, ...). */`,
    `export type AppErrorShape = ${errorShape};`,
    `type AppRouterRecord = {\n${record}\n};`,
    `/** Switchboard's tRPC router, as seen by clients (procedures, inputs, outputs, errors). */`,
    `export type AppRouter = TRPCBuiltRouter<{ ctx: object; meta: object; errorShape: AppErrorShape; transformer: false }, AppRouterRecord>;`,
  ].join("\n");
}

/** The client's own declarations (tsc), with the AppRouter import replaced by the printed type. */
function clientDeclarations(): string {
  let text = "";
  const program = ts.createProgram([join(clientDir, "src/index.ts")], {
    ...baseOptions,
    declaration: true,
    emitDeclarationOnly: true,
    noEmit: false,
  });
  const result = program.emit(program.getSourceFile(join(clientDir, "src/index.ts")), (fileName, data) => {
    if (fileName.endsWith("index.d.ts")) text = data;
  }, undefined, true);
  if (result.emitSkipped || !text) throw new Error("declaration emit of packages/client/src/index.ts failed");
  const importLine = /^import type \{ AppRouter \} from "@switchboard\/api";\n/m;
  if (!importLine.test(text)) throw new Error("packages/client/src/index.ts must import AppRouter with `import type { AppRouter } from \"@switchboard/api\"`");
  // AppRouter is declared (and exported) by the printed part above.
  return text.replace(importLine, "").replace(/^export type \{ AppRouter \};\n/m, "");
}

/**
 * The checker prints a named type alias (say `TEmergencyScope`) by name. Such a name is
 * written out too, as a local alias printed the same way, until nothing is left unresolved.
 */
function hoistedAlias(name: string): string | undefined {
  for (const file of apiProgram.getSourceFiles()) {
    if (file.isDeclarationFile || !file.fileName.startsWith(repoRoot) || file.fileName.includes("/node_modules/")) continue;
    for (const statement of file.statements) {
      if ((ts.isTypeAliasDeclaration(statement) || ts.isInterfaceDeclaration(statement)) && statement.name.text === name) {
        const type = checker.getTypeAtLocation(statement.name);
        if (ts.isTypeAliasDeclaration(statement)) return `type ${name} = ${checker.typeToString(type, undefined, printFlags)};`;
        const members = checker.getPropertiesOfType(type).map((p) => {
          const optional = p.flags & ts.SymbolFlags.Optional ? "?" : "";
          return `${JSON.stringify(p.name)}${optional}: ${checker.typeToString(checker.getTypeOfSymbol(p), undefined, printFlags)};`;
        });
        return `type ${name} = { ${members.join(" ")} };`;
      }
    }
  }
  return undefined;
}

/** Compiles the declarations alone, with skipLibCheck off, as a strict consumer would. */
async function diagnosticsOf(text: string): Promise<readonly ts.Diagnostic[]> {
  const checkDir = join(outdir, ".check");
  await mkdir(checkDir, { recursive: true });
  await writeFile(join(checkDir, "index.d.ts"), text);
  const check = ts.createProgram([join(checkDir, "index.d.ts")], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    types: [],
    typeRoots: [join(repoRoot, "node_modules/@types")],
  });
  const diagnostics = ts.getPreEmitDiagnostics(check).filter((d) => d.file?.fileName.startsWith(checkDir));
  await rm(checkDir, { recursive: true, force: true });
  return diagnostics;
}

let declarations = `${printAppRouter()}\n${clientDeclarations()}`;
if (/@switchboard\//.test(declarations.replace(/^\s*\*.*$/gm, ""))) throw new Error("dist/index.d.ts still refers to a workspace package");
const hoisted = new Set<string>();
for (;;) {
  const diagnostics = await diagnosticsOf(declarations);
  if (!diagnostics.length) break;
  const missing = [
    ...new Set(
      diagnostics
        .filter((d) => d.code === 2304)
        .map((d) => /'([^']+)'/.exec(ts.flattenDiagnosticMessageText(d.messageText, "\n"))?.[1])
        .filter((n): n is string => n !== undefined && !hoisted.has(n)),
    ),
  ];
  const aliases = missing.map((name) => [name, hoistedAlias(name)] as const);
  if (!missing.length || aliases.some(([, alias]) => alias === undefined)) {
    const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => clientDir, getNewLine: () => "\n" };
    throw new Error(`dist/index.d.ts does not compile on its own:\n${ts.formatDiagnostics(diagnostics.slice(0, 20), host)}`);
  }
  for (const [name, alias] of aliases) {
    hoisted.add(name);
    declarations += `\n${alias}`;
  }
}
await writeFile(join(outdir, "index.d.ts"), declarations);

// dist/ is the published package: its own manifest, no workspace dependency, no tsx.
const published = {
  name: "@switchboard/client",
  version: manifest.version,
  description: "Typed client and CLI for Switchboard, the self-hosted AI gateway",
  type: "module",
  exports: { ".": { types: "./index.d.ts", default: "./index.js" }, "./package.json": "./package.json" },
  types: "./index.d.ts",
  bin: { switchboard: "./cli.js" },
  engines: { node: ">=20.19" },
  sideEffects: false,
  // The source manifest's own (@trpc/server included: the AppRouter types need it, and
  // @trpc/client takes it as a peer); the externals plugin refuses an import outside them.
  dependencies: manifest.dependencies ?? {},
};
await writeFile(join(outdir, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
await writeFile(join(outdir, "README.md"), readFileSync(join(clientDir, "README.md"), "utf8"));
console.log(`client: dist/index.js, dist/cli.js, dist/index.d.ts (${(declarations.length / 1024).toFixed(0)} kB of types)`);
