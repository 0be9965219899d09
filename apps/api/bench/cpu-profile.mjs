/**
 * Preload for benchmarks: `NODE_OPTIONS="--import <this file>"` with CPU_PROF_DIR set makes
 * the process record a V8 CPU profile and write it when it gets SIGTERM (Node 20 refuses
 * --cpu-prof inside NODE_OPTIONS, and bench processes are spawned with an env, not flags).
 * With CPU_PROF_ON_SIGNAL=1 recording starts only at SIGUSR2, so start-up (migrations,
 * module loading) and warm-up stay out of the profile.
 */
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  // µs between samples; finer (e.g. 25) to follow what runs within one request, at more overhead.
  session.post("Profiler.setSamplingInterval", { interval: Number(process.env.CPU_PROF_INTERVAL ?? 200) });
  const start = () => session.post("Profiler.start");
  if (process.env.CPU_PROF_ON_SIGNAL === "1") process.once("SIGUSR2", start);
  else start();
  process.prependOnceListener("SIGTERM", () => {
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
