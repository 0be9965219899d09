/**
 * The keep-alive connection pools every upstream call goes through (upstream-http.ts): one
 * undici Agent for the whole process, which keeps a pool per origin (http and https alike,
 * TLS with Node's CAs and NODE_EXTRA_CA_CERTS).
 *
 * Why undici's `request` and not `node:http`: the same POST and read of a JSON answer from a
 * loopback upstream took ~55 µs of CPU per call against ~160 µs for an `http.request` on a
 * keep-alive agent (5,000 calls at c=1; at c=16 ~40 against ~130), with nothing of fetch's
 * web objects in between (docs/performance.md).
 */
import { Agent } from "undici";

export const upstreamPool = new Agent({
  // Per origin, as node:http's agent had (maxSockets).
  connections: 256,
  // The provider chain times every call (its call, first-token and idle timeouts, a caller's
  // deadline) and aborts it through the call's signal; undici's own timers would race them.
  headersTimeout: 0,
  bodyTimeout: 0,
});
