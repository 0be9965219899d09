/**
 * Summarises a V8 .heapsnapshot (self size by constructor / native kind, largest first) or
 * a sampling heap profile, .heapprofile (bytes allocated by area, by function, and by which
 * of our functions the allocation was made for).
 * `node --import tsx bench/heap-summary.ts <file.heapsnapshot|file.heapprofile> [top]`
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { mapFramesToSources, type ProfileFrame } from "./profile-sources.ts";
import { areaOf } from "./profile.ts";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeap(file: string, top = 15): { totalMb: number; rows: Array<{ name: string; count: number; mb: number }> } {
  const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((f) => fields.indexOf(f)) as [number, number, number];
  const stride = fields.length;
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + iType]!]!;
    const name = snap.strings[snap.nodes[i + iName]!]!;
    const size = snap.nodes[i + iSize]!;
    total += size;
    // Objects group by constructor; strings, code and native memory by their kind.
    const key = type === "object" || type === "native" || type === "closure" ? `${type}: ${name.slice(0, 60)}` : `(${type})`;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
  }
  const rows = [...groups]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, top)
    .map(([name, g]) => ({ name, count: g.count, mb: g.bytes / 1048576 }));
  return { totalMb: total / 1048576, rows };
}

interface AllocationNode {
  callFrame: ProfileFrame;
  selfSize: number;
  children: AllocationNode[];
}

const isOurs = (url: string) => /\/apps\/[^/]+\/(src|dist)\//.test(url) && !url.includes("/generated/");
const frameName = (f: AllocationNode["callFrame"]) =>
  `${f.functionName || "(anonymous)"} ${f.url.replace(/^file:\/\/.*?\/(node_modules|apps|packages)\//, "$1/")}:${f.lineNumber + 1}`.trim();

/** Bytes allocated (sampled) by area, by function, and by our nearest caller → area. */
export function summarizeAllocations(file: string, top = 15) {
  const root = (JSON.parse(readFileSync(file, "utf8")) as { head: AllocationNode }).head;
  // The compiled build's frames, back on the sources they were bundled from.
  const frames: AllocationNode["callFrame"][] = [];
  const collect = (node: AllocationNode) => void (frames.push(node.callFrame), node.children.forEach(collect));
  collect(root);
  mapFramesToSources(frames);
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byCaller = new Map<string, number>();
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const walk = (node: AllocationNode, ours: AllocationNode["callFrame"] | undefined) => {
    const f = node.callFrame;
    const nearest = isOurs(f.url) ? f : ours;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const area = areaOf(f.url, f.functionName);
      add(byArea, area, node.selfSize);
      add(byFunction, frameName(f), node.selfSize);
      add(byCaller, nearest ? `${frameName(nearest)} → ${isOurs(f.url) ? "itself" : area}` : `(none of ours) → ${area}`, node.selfSize);
    }
    for (const c of node.children) walk(c, nearest);
  };
  walk(root, undefined);
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { totalMb: total / 1048576, areas: sorted(byArea), functions: sorted(byFunction), callers: sorted(byCaller) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2]!;
  const top = Number(process.argv[3] ?? 15);
  if (file.endsWith(".heapprofile")) {
    const { totalMb, areas, functions, callers } = summarizeAllocations(file, top);
    const pct = (b: number) => `${((b / 1048576 / totalMb) * 100).toFixed(1).padStart(5)}%`;
    console.log(`allocations sampled: ${totalMb.toFixed(1)} MB in total`);
    for (const [title, rows] of [["by area", areas], ["by function", functions], ["by our nearest caller", callers]] as const) {
      console.log(`\n${title}:`);
      for (const [name, bytes] of rows) console.log(`  ${pct(bytes)}  ${name}`);
    }
  } else {
    const { totalMb, rows } = summarizeHeap(file, top);
    console.log(`heap snapshot: ${totalMb.toFixed(1)} MB in total (self sizes)`);
    for (const r of rows) console.log(`  ${r.mb.toFixed(1).padStart(7)} MB  ${String(r.count).padStart(8)}×  ${r.name}`);
  }
}
