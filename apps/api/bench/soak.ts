/**
 * `npm run soak`: the soak of test/soak.ts for SOAK_SECONDS (default 600), printed as it
 * runs; exits non-zero on any violation. A 60-second run is part of the test suite
 * (test/soak.integration.test.ts).
 */
import { runSoak } from "../test/soak.ts";

const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const report = await runSoak({ seconds, log: (line) => console.log(line) });
console.log(`\nsoak: ${seconds} s, ${report.freezes} freeze/unfreeze cycles, ${report.acknowledgedChats} acknowledged chat replies checked`);
console.log("outcomes by kind, status and code:");
for (const [key, n] of Object.entries(report.outcomes).sort()) console.log(`  ${String(n).padStart(7)}  ${key}`);
console.log(`burst: ${report.burst.sent} requests at ${report.burst.rate}/s → ${JSON.stringify(report.burst.statuses)}; RSS ${report.burst.rssBeforeMb.join("/")} → ${report.burst.rssAfterMb.join("/")} MB`);
console.log(report.violations.length ? `\nVIOLATIONS:\n${report.violations.map((v) => `  - ${v}`).join("\n")}` : "\nno violations");
process.exit(report.violations.length ? 1 : 0);
