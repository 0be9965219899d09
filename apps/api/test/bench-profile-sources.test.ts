import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mapFramesToSources, type ProfileFrame } from "../bench/profile-sources.ts";

let dir: string;
let bundleUrl: string;
let bundleText: string;

// A bundle as scripts/build.ts makes one (ESM, source map beside it), from two source files.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "profile-sources-"));
  await mkdir(join(dir, "src"));
  await writeFile(join(dir, "src", "helper.ts"), "// a comment line\nexport function helperWork(n: number): number {\n  return n * 2;\n}\n");
  await writeFile(join(dir, "src", "main.ts"), 'import { helperWork } from "./helper.ts";\n\nexport function mainWork(): number {\n  return helperWork(21);\n}\n');
  await build({ absWorkingDir: dir, entryPoints: ["src/main.ts"], outfile: join(dir, "dist", "main.js"), bundle: true, format: "esm", platform: "node", sourcemap: true, logLevel: "silent" });
  bundleUrl = pathToFileURL(join(dir, "dist", "main.js")).href;
  bundleText = await readFile(join(dir, "dist", "main.js"), "utf8");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The frame V8 reports for a function defined in the bundle: 0-based line and column of its name. */
function frameOf(name: string): ProfileFrame {
  const lines = bundleText.split("\n");
  const lineNumber = lines.findIndex((l) => l.includes(`function ${name}(`));
  return { functionName: name, url: bundleUrl, lineNumber, columnNumber: lines[lineNumber]!.indexOf(`function ${name}`) };
}

describe("mapFramesToSources", () => {
  it("puts each bundle frame back on the source file and line it came from", () => {
    const helper = frameOf("helperWork");
    const main = frameOf("mainWork");
    mapFramesToSources([helper, main]);
    expect(helper.url).toBe(pathToFileURL(join(dir, "src", "helper.ts")).href);
    expect(helper.lineNumber).toBe(1);
    expect(main.url).toBe(pathToFileURL(join(dir, "src", "main.ts")).href);
    expect(main.lineNumber).toBe(2);
  });

  it("leaves Node's own frames, dependencies and files without a source map as they are", () => {
    const frames: ProfileFrame[] = [
      { functionName: "emit", url: "node:events", lineNumber: 470, columnNumber: 3 },
      { functionName: "send", url: "file:///app/node_modules/fastify/lib/reply.js", lineNumber: 154, columnNumber: 1 },
      { functionName: "(garbage collector)", url: "", lineNumber: -1, columnNumber: -1 },
      { functionName: "x", url: pathToFileURL(join(dir, "no-map.js")).href, lineNumber: 3, columnNumber: 0 },
    ];
    const before = structuredClone(frames);
    mapFramesToSources(frames);
    expect(frames).toEqual(before);
  });
});
