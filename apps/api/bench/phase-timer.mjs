/**
 * Preload for `npm run bench:phases` (`node --import ./bench/phase-timer.mjs …`): times the
 * critical path of each proxied chat completion in the process it is loaded into, from the
 * outside, without a line of the server's code knowing: when node:http hands the server the
 * request, when the upstream request is made (node:http's `end()`, undici's request created),
 * when its bytes are written (node:http writes in a `process.nextTick` after `end()`, so
 * whatever the server still runs in between delays the write) and when that write returned,
 * when the upstream's answer starts and ends, and when the server's `end()` of its answer was
 * called and returned (the answer's write is inside). Upstream calls are seen through
 * node:http's ClientRequest and through undici's diagnostics channels, whichever the process
 * uses. Only valid at c=1: one request in flight, so the upstream call belongs to the request
 * being served.
 *
 * Every PHASE_TIMER_BATCH requests one JSON line of the raw timings (µs since the request
 * arrived) is appended to PHASE_TIMER_OUT, with the gap since the previous response ended:
 * at c=1 the client sends its next request as soon as it has the answer, so a gap longer
 * than the floor's is work the process still did after answering (hooks, logs, bookkeeping,
 * GC) that the next request waited behind. Plain JS: it is loaded by compiled builds, tsx-free.
 */
import diagnostics from "node:diagnostics_channel";
import { appendFileSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";

const OUT = process.env.PHASE_TIMER_OUT;
const BATCH = Number(process.env.PHASE_TIMER_BATCH ?? 500);
const FIELDS = ["upstreamSent", "upstreamHeaders", "upstreamBody", "answered"];
const LATE_FIELDS = ["upstreamWrite", "upstreamWritten", "answerWritten"];
// Longer gaps are the client pausing between rounds, not the server.
const MAX_GAP_MS = 20;

if (OUT) {
  let current;
  let lastAnswered;
  let rows = [];
  const record = (row) => {
    const gap = row.gap === undefined || row.gap > MAX_GAP_MS ? null : Math.round(row.gap * 1000);
    rows.push([...FIELDS.map((f) => Math.round((row[f] - row.arrived) * 1000)), gap, ...LATE_FIELDS.map((f) => Math.round((row[f] - row.arrived) * 1000))]);
    if (rows.length < BATCH) return;
    appendFileSync(OUT, `${JSON.stringify(rows)}\n`);
    rows = [];
  };

  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, req, res) {
    if (event === "request" && req.method === "POST" && req.url.endsWith("/chat/completions")) {
      const row = { arrived: performance.now() };
      if (lastAnswered !== undefined) row.gap = row.arrived - lastAnswered;
      current = row;
      const end = res.end;
      res.end = function (...args) {
        row.answered = lastAnswered = performance.now();
        const result = end.apply(this, args);
        // The answer's bytes go out inside end() (a single write, or the uncork of a piped one).
        row.answerWritten = performance.now();
        if (row.upstreamBody !== undefined) record(row);
        return result;
      };
    }
    return emit.apply(this, arguments);
  };

  const endRequest = http.ClientRequest.prototype.end;
  http.ClientRequest.prototype.end = function (...args) {
    const row = current;
    if (row && row.upstreamSent === undefined) {
      row.upstreamSent = performance.now();
      this.prependOnceListener("socket", () => void (row.upstreamWrite = performance.now()));
      // node:http calls the request's _flush right after "socket": that is the write itself.
      const flush = this._flush;
      this._flush = function (...flushArgs) {
        const result = flush.apply(this, flushArgs);
        row.upstreamWritten = performance.now();
        return result;
      };
      this.prependOnceListener("response", (answer) => {
        row.upstreamHeaders = performance.now();
        // First in line: a forwarder that pipes ends its response in its own "end" listener.
        answer.prependOnceListener("end", () => void (row.upstreamBody = performance.now()));
      });
    }
    return endRequest.apply(this, args);
  };

  // The same stamps for a process that calls upstream with undici.
  const rowOf = new WeakMap();
  const stamp = (channel, field) =>
    diagnostics.subscribe(channel, ({ request }) => {
      const row = rowOf.get(request);
      if (row && row[field] === undefined) row[field] = performance.now();
    });
  diagnostics.subscribe("undici:request:create", ({ request }) => {
    const row = current;
    if (!row || row.upstreamSent !== undefined) return;
    row.upstreamSent = performance.now();
    rowOf.set(request, row);
  });
  stamp("undici:client:sendHeaders", "upstreamWrite");
  stamp("undici:request:bodySent", "upstreamWritten");
  stamp("undici:request:headers", "upstreamHeaders");
  stamp("undici:request:trailers", "upstreamBody");
}
