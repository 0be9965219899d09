/**
 * Waits for the machine to go quiet before a measurement: a gateway keeps working for a
 * moment after its c=32 load (writing the request log's last batches, collecting garbage),
 * and the next target measured would share the cores with that tail.
 *
 * Reads the whole machine's CPU time from /proc/stat (Linux); elsewhere it returns at once.
 */
import { readFile } from "node:fs/promises";

const WINDOW_MS = 250;
/** Busy share of all cores below which the machine counts as quiet. */
const QUIET = 0.1;
const MAX_WAIT_MS = 5_000;

async function cpuTimes(): Promise<{ busy: number; total: number } | null> {
  const stat = await readFile("/proc/stat", "utf8").catch(() => null);
  const fields = stat?.split("\n", 1)[0]?.trim().split(/\s+/).slice(1).map(Number);
  if (!fields || fields.length < 5 || fields.some(Number.isNaN)) return null;
  const total = fields.reduce((a, b) => a + b, 0);
  // idle + iowait are the time the cores had nothing to run.
  return { busy: total - fields[3]! - fields[4]!, total };
}

/** Resolves once one WINDOW_MS window is quiet (or after MAX_WAIT_MS): the time waited, and whether quiet came. */
export async function settle(): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = performance.now();
  let last = await cpuTimes();
  if (!last) return { waitedMs: 0, quiet: true };
  while (performance.now() - started < MAX_WAIT_MS) {
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const now = await cpuTimes();
    if (!now) return { waitedMs: performance.now() - started, quiet: true };
    const share = (now.busy - last.busy) / Math.max(1, now.total - last.total);
    last = now;
    if (share < QUIET) return { waitedMs: performance.now() - started, quiet: true };
  }
  return { waitedMs: performance.now() - started, quiet: false };
}
