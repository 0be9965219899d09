/**
 * Summarises a V8 .heapsnapshot: self size by constructor / native kind, largest first.
 * `node --import tsx bench/heap-summary.ts <file.heapsnapshot> [top]`
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { totalMb, rows } = summarizeHeap(process.argv[2]!, Number(process.argv[3] ?? 15));
  console.log(`heap snapshot: ${totalMb.toFixed(1)} MB in total (self sizes)`);
  for (const r of rows) console.log(`  ${r.mb.toFixed(1).padStart(7)} MB  ${String(r.count).padStart(8)}×  ${r.name}`);
}
