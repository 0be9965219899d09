/**
 * Where the benchmarks' processes run (BENCH_PLACEMENT), for bench:peers and bench:phases.
 *
 * "shared" (the default, as the performance goals were first measured): every process — the
 * load generator, the fake upstream and the gateway under test — floats over all of the
 * machine's cores, and the kernel places them.
 *
 * "apart": the harness (this process, which times c=1; autocannon, which it spawns; the fake
 * upstream) runs on core 0 and every gateway under test (the floor, Portkey, Switchboard) on
 * the other cores. In production the client and the upstream are other machines; on one
 * small machine, sharing cores lets the kernel run the process a write wakes on the writer's
 * own core, so a gateway that still has work to do after writing (bookkeeping after the
 * answer, anything after the upstream request) waits behind the client or the upstream it
 * just woke. Apart, the figures say what the gateway costs without that; every target is
 * placed the same way, so ratios stay like for like. PostgreSQL and Redis are left where the
 * system runs them.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";

export type Placement = "shared" | "apart";

// Read once, before this process pins itself (the count follows the process's own affinity).
const CORES = availableParallelism();

export const PLACEMENT: Placement = (() => {
  const value = process.env.BENCH_PLACEMENT ?? "shared";
  if (value !== "shared" && value !== "apart") throw new Error(`BENCH_PLACEMENT must be shared or apart, not ${value}`);
  if (value === "apart" && CORES < 2) throw new Error("BENCH_PLACEMENT=apart needs at least 2 cores");
  return value;
})();

const HARNESS_CORES = "0";
const gatewayCores = () => (CORES === 2 ? "1" : `1-${CORES - 1}`);

/** Every thread of `pid` (and what it starts later) on `cores`, with util-linux's taskset. */
function pin(pid: number, cores: string): void {
  try {
    execFileSync("taskset", ["--all-tasks", "--cpu-list", "--pid", cores, String(pid)], { stdio: "ignore" });
  } catch (error) {
    throw new Error(`BENCH_PLACEMENT=apart: could not pin process ${pid} to cores ${cores} (is taskset installed?)`, { cause: error });
  }
}

/** A process of the harness: the runner itself, the fake upstream. Children inherit it (autocannon). */
export function placeHarness(pid: number = process.pid): void {
  if (PLACEMENT === "apart") pin(pid, HARNESS_CORES);
}

/** A gateway under test. */
export function placeGateway(pid: number): void {
  if (PLACEMENT === "apart") pin(pid, gatewayCores());
}

/** One line for a report's header. */
export const placementLine = () =>
  PLACEMENT === "apart"
    ? `placement: apart (harness — this client, autocannon, the fake upstream — on core ${HARNESS_CORES}; gateways on core ${gatewayCores()})`
    : "placement: shared (every process on every core; BENCH_PLACEMENT=apart puts the harness and the gateways on separate cores)";
