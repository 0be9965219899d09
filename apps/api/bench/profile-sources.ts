/**
 * Puts the compiled build's frames of a CPU profile back on the sources: each frame in a
 * bundle file that has a source map (`dist/*.js.map`, written by scripts/build.ts) gets the
 * source file and line it came from, so areas and callers read as they do for `tsx`.
 * Function names stay as the bundle has them (esbuild may suffix one: `parseJson2`).
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface ProfileFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

export function mapFramesToSources(frames: Iterable<ProfileFrame>): void {
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (url: string): SourceMap | null => {
    if (!maps.has(url)) {
      const file = `${fileURLToPath(url)}.map`;
      maps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, "utf8"))) : null);
    }
    return maps.get(url)!;
  };
  for (const frame of frames) {
    if (!frame.url.startsWith("file://") || !frame.url.endsWith(".js") || frame.url.includes("/node_modules/")) continue;
    const map = mapOf(frame.url);
    const entry = map?.findEntry(frame.lineNumber, frame.columnNumber ?? 0);
    if (!entry || !("originalSource" in entry)) continue;
    const source = resolve(dirname(fileURLToPath(frame.url)), entry.originalSource);
    frame.url = pathToFileURL(source).href;
    frame.lineNumber = entry.originalLine;
    frame.columnNumber = entry.originalColumn;
  }
}
