/**
 * The keep-alive connection pools every upstream call goes through (upstream-http.ts), one
 * per protocol for the whole process.
 */
import http from "node:http";
import https from "node:https";

export const upstreamAgents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 256 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

/** The pool for a URL's protocol ("http:" / "https:"), or undefined for any other. */
export const agentFor = (protocol: string): http.Agent | undefined => upstreamAgents[protocol as keyof typeof upstreamAgents];
