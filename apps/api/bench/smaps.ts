/**
 * Resident memory of a process by kind of mapping, from /proc/<pid>/smaps: what RSS is made
 * of beyond what V8 reports.
 *
 * - "malloc: main arena" is glibc's brk heap ("[heap]"); "malloc: other arenas" are its
 *   per-thread arenas (anonymous, 64 MB-aligned reservations). Both hold every native
 *   allocation: ArrayBuffer and Buffer contents, V8's compiler zones, OpenSSL, libuv…
 * - "WebAssembly memory": the accessible part of a WebAssembly.Memory, which V8 places inside
 *   a reservation of several GB of inaccessible address space (guard regions).
 * - "other anonymous": V8's heap pages, its code space, thread stacks.
 * - "node binary" and "other files": mapped code and data, shared with other processes.
 *
 * Under jemalloc (scripts/run-node.sh) malloc's memory is anonymous mappings of its own, so
 * it lands in "other anonymous" (and a little in "WebAssembly memory", when one of its
 * mappings borders a reservation); the glibc rows are then empty.
 */
export interface SmapsSummary {
  /** Bytes resident in total. */
  rss: number;
  /** Bytes resident per kind (see above). */
  byKind: Record<string, number>;
}

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rss: number;
}

const GUARD_REGION = 1n << 30n;
const ARENA_ALIGN = 64n << 20n;

function parse(smaps: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of smaps.split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      mappings.push({ start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), perms: header[3]!, path: header[4]!.trim(), rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && mappings.length) mappings.at(-1)!.rss = Number(rss[1]) * 1024;
  }
  return mappings;
}

export function summarizeSmaps(smaps: string, nodeBinary: string): SmapsSummary {
  const mappings = parse(smaps);
  const isGuard = (m: Mapping | undefined, edge: bigint, side: "before" | "after") =>
    !!m && m.path === "" && m.perms.startsWith("---") && m.end - m.start >= GUARD_REGION && (side === "before" ? m.end === edge : m.start === edge);
  const byKind: Record<string, number> = {};
  let rss = 0;
  mappings.forEach((m, i) => {
    let kind: string;
    if (m.path === "[heap]") kind = "malloc: main arena";
    else if (m.path === nodeBinary) kind = "node binary";
    else if (m.path.startsWith("[")) kind = "other anonymous";
    else if (m.path !== "") kind = "other files";
    else if (isGuard(mappings[i - 1], m.start, "before") || isGuard(mappings[i + 1], m.end, "after")) kind = "WebAssembly memory";
    else if (m.start % ARENA_ALIGN === 0n && m.end - m.start <= ARENA_ALIGN && m.perms.startsWith("rw")) kind = "malloc: other arenas";
    else kind = "other anonymous";
    byKind[kind] = (byKind[kind] ?? 0) + m.rss;
    rss += m.rss;
  });
  return { rss, byKind };
}
