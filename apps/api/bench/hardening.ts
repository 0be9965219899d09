/**
 * The hardening figures, measured from outside against a real server process (PostgreSQL +
 * Redis, NODE_ENV=production; `--embedded` for the embedded default):
 *   1. time to refuse a 200 MB multipart upload to /trpc/auth.login (declared length, and chunked);
 *   2. the server's RSS after 1000 attempted anonymous emergency.watch streams (all held open);
 *   3. time from SIGTERM to exit with 100 open streams (90 emergency.watch + 10 chat.stream).
 * Prints a small report on stdout.
 */
import { performance } from "node:perf_hooks";
import { rssMbOf } from "../test/proc.ts";
import { openStream, rawRequest, type OpenStream } from "../test/raw-http.ts";
import { progress, startBenchApi } from "./load.ts";

const embedded = process.argv.includes("--embedded");
const MB = 1024 * 1024;

const rssMb = (pid: number) => Math.round(rssMbOf(pid));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function refuseUploads(url: string): Promise<string[]> {
  const lines: string[] = [];
  for (const declareLength of [true, false]) {
    const res = await rawRequest(url, {
      method: "POST",
      path: "/trpc/auth.login",
      headers: { "content-type": "multipart/form-data; boundary=----x" },
      streamBytes: 200 * MB,
      declareLength,
    });
    lines.push(`  ${declareLength ? "Content-Length" : "chunked       "}: ${res.status} after ${res.ms.toFixed(1)} ms, ${(res.bytesSent / MB).toFixed(1)} MB sent of 200`);
  }
  return lines;
}

async function watchFlood(url: string, pid: number): Promise<string[]> {
  const before = rssMb(pid);
  const accepted: OpenStream[] = [];
  const statuses = new Map<number, number>();
  for (let i = 0; i < 1000; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => openStream(url, "/trpc/emergency.watch")));
    for (const s of batch) {
      statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
      if (s.status === 200) accepted.push(s);
      else s.close();
    }
    progress(`watch streams: ${i + 50}/1000`);
  }
  progress("");
  await new Promise((r) => setTimeout(r, 1_000));
  const after = rssMb(pid);
  for (const s of accepted) s.close();
  const counts = [...statuses].map(([status, n]) => `${n} × ${status}`).join(", ");
  return [`  answers: ${counts}`, `  server RSS: ${before} MB before, ${after} MB with the accepted streams open (+${after - before} MB)`];
}

async function stopWithStreams(): Promise<string[]> {
  const api = await startBenchApi({ WATCH_STREAMS_PER_IP: "100", STREAMS_PER_USER: "10", TEMPLATE_STREAM_DELAY_MS: "200", SHUTDOWN_TIMEOUT_MS: "10000" }, { embedded });
  try {
    const watches = await Promise.all(Array.from({ length: 90 }, () => openStream(api.url, "/trpc/emergency.watch")));
    const chats = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        openStream(api.url, `/trpc/chat.stream?input=${encodeURIComponent(JSON.stringify({ message: `a long story number ${i}` }))}`, api.auth),
      ),
    );
    await Promise.all(watches.map((s) => s.waitFor("data:")));
    await Promise.all(chats.map((s) => s.waitFor("chat_delta")));
    const started = performance.now();
    process.kill(api.pid, "SIGTERM");
    while (alive(api.pid)) await new Promise((r) => setTimeout(r, 5));
    const ms = performance.now() - started;
    await Promise.all([...watches, ...chats].map((s) => s.ended));
    const finalEvents = watches.filter((s) => s.text().includes("serialized-error")).length;
    const chatEnds = chats.filter((s) => /chat_complete|"type":"error"/.test(s.text())).length;
    return [
      `  exit after ${ms.toFixed(0)} ms`,
      `  ${finalEvents}/90 watch streams got a final event; ${chatEnds}/10 chat streams completed or ended with an error event`,
    ];
  } finally {
    await api.stop();
  }
}

const api = await startBenchApi({}, { embedded });
let report: string[];
try {
  report = [
    `Hardening (${embedded ? "embedded" : "PostgreSQL + Redis"}, NODE_ENV=production)`,
    "1. refusing a 200 MB multipart upload to /trpc/auth.login",
    ...(await refuseUploads(api.url)),
    "2. 1000 attempted anonymous emergency.watch streams from one address (WATCH_STREAMS_PER_IP=20)",
    ...(await watchFlood(api.url, api.pid)),
  ];
} finally {
  await api.stop();
}
report.push("3. SIGTERM with 100 open streams (90 emergency.watch, 10 chat.stream)", ...(await stopWithStreams()));
console.log(report.join("\n"));
