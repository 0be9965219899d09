/**
 * The soak (test/soak.ts) for 60 seconds: two cluster instances under mixed traffic with
 * upstream faults, a freeze and unfreeze, a Redis restart and an overload burst. The full
 * 10-minute run is `npm run soak`.
 */
import { expect, it } from "vitest";
import { runSoak } from "./soak.ts";

it("survives a minute of mixed traffic, faults, a freeze, a Redis restart and a burst without violations", async () => {
  const report = await runSoak({ seconds: Number(process.env.SOAK_SECONDS ?? 60), log: (line) => console.log(line) });
  console.log(JSON.stringify({ outcomes: report.outcomes, burst: report.burst }, null, 1));
  expect(report.violations).toEqual([]);
  expect(report.acknowledgedChats).toBeGreaterThan(0);
  expect(report.freezes).toBe(1);
  expect(report.samples.length).toBeGreaterThan(3);
  // The memory trend is judged on post-GC readings: they must have been taken.
  expect(report.floors.length).toBeGreaterThan(3);
}, 240_000);
