/**
 * The transport of every upstream call (OpenAI-protocol and Anthropic providers alike): one
 * POST of a JSON body over node:http(s) with keep-alive agents, answered with the status and
 * the body text, or with each server-sent event. In profiles of the proxied chat path the
 * vendors' SDKs (request building, header merging, logging helpers, their AbortControllers)
 * and the web fetch/Headers/Response objects they need cost about a sixth of the gateway's
 * CPU; none of that is needed to send bytes we already have and read bytes back.
 *
 * Failures of the transport itself are classified here (aborted, connection errors); what
 * a status or a body means is the protocol's business (openai-compatible.ts, anthropic.ts).
 */
import http from "node:http";
import https from "node:https";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { ProviderError, type CallSignal } from "./types.ts";
import { agentFor } from "./upstream-agents.ts";

/** One event's data beyond this many characters is not an answer chunk but a broken stream. */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

/** One server-sent event: its data, and its name when it has one (`event: message_start`). */
export type WireEvent = EventSourceMessage;

/** Where to POST, prepared once per provider (and model, for Azure): URL parts and headers. */
export interface WireEndpoint {
  readonly url: string;
  readonly request: typeof http.request;
  readonly options: http.RequestOptions;
  /** Flat [name, value, …] pairs, sent as they are (host and the caller's headers included). */
  readonly headers: readonly string[];
}

/**
 * A JSON POST's headers: ours, then the protocol's own (its credential, its version), then
 * the configured headers (which may replace any of those, whatever their case), then the
 * body's type.
 */
export function jsonHeaders(own: Record<string, string>, configured: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "switchboard", ...own };
  for (const [name, value] of Object.entries(configured)) headers[name.toLowerCase()] = value;
  headers["content-type"] = "application/json";
  return headers;
}

/**
 * @param headers lower-case names; later entries replace earlier ones. Names and values are
 *   validated by node:http when the request is made (a bad one fails that call).
 * @throws ProviderError (connection_error) for a URL that is not http(s).
 */
export function wireEndpoint(url: string, headers: Record<string, string>): WireEndpoint {
  let target: URL;
  try {
    target = new URL(url);
  } catch (error) {
    throw new ProviderError("connection_error", `cannot call upstream: invalid URL ${url}`, { cause: error });
  }
  const agent = agentFor(target.protocol);
  if (!agent) throw new ProviderError("connection_error", `cannot call upstream: unsupported protocol ${target.protocol}`);
  const flat = ["host", target.host];
  for (const [name, value] of Object.entries(headers)) flat.push(name, value);
  return {
    url,
    request: target.protocol === "https:" ? https.request : http.request,
    options: {
      method: "POST",
      agent,
      // URL keeps IPv6 hosts in brackets; sockets want them without.
      hostname: target.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: target.port || undefined,
      path: `${target.pathname}${target.search}`,
    },
    headers: flat,
  };
}

/** A whole response. */
export interface WireReply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/**
 * A 2xx response to a streaming request: its events, as they arrive, in batches (the events
 * that one read of the socket completed; usually several per batch, and one pass of the
 * consumer's loop is cheaper than one per event).
 */
export interface WireEvents {
  status: number;
  events: AsyncIterable<readonly WireEvent[]>;
}

/** POSTs `body` and reads the whole answer, whatever its status. */
export async function postJson(endpoint: WireEndpoint, body: string, signal: CallSignal): Promise<WireReply> {
  return send(endpoint, body, signal, readWhole);
}

/** POSTs `body`; a 2xx answer is read as server-sent events, any other whole. */
export async function postForEvents(endpoint: WireEndpoint, body: string, signal: CallSignal): Promise<WireReply | WireEvents> {
  return send(endpoint, body, signal, (response, settle) => {
    const status = response.statusCode ?? 502;
    if (status < 200 || status >= 300) return readWhole(response, settle);
    settle.resolve({ status, events: eventsOf(response, signal) });
  });
}

interface Settle<T> {
  resolve(value: T): void;
  fail(error: unknown): void;
}

/**
 * Makes the request and hands the response to `onResponse`. An abort (before the response
 * or while its body is read, SSE included) destroys the request and fails it as "aborted";
 * any other network failure is a "connection_error" naming its cause (ECONNREFUSED…).
 */
function send<T>(endpoint: WireEndpoint, body: string, signal: CallSignal, onResponse: (response: IncomingMessage, settle: Settle<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(aborted(signal));
    let response: IncomingMessage | undefined;
    let settled = false;
    const onAbort = () => {
      const error = aborted(signal);
      settle.fail(error);
      // Mid-stream, destroying the response is what ends its consumer's iteration.
      response?.destroy(error);
      request.destroy(error);
    };
    const detach = () => signal.removeEventListener("abort", onAbort);
    const settle: Settle<T> = {
      resolve(value) {
        if (settled) return;
        settled = true;
        resolve(value);
      },
      fail(error) {
        if (settled) return;
        settled = true;
        detach();
        reject(signal.aborted ? aborted(signal) : error);
      },
    };

    const headers = endpoint.headers.slice();
    headers.push("content-length", String(Buffer.byteLength(body)));
    let request: http.ClientRequest;
    try {
      request = endpoint.request({ ...endpoint.options, headers });
    } catch (error) {
      // An invalid header name or value from the provider's configuration.
      return reject(new ProviderError("connection_error", `cannot call upstream: ${messageOf(error)}`, { cause: error }));
    }
    signal.addEventListener("abort", onAbort, { once: true });
    request.on("error", (error) => settle.fail(new ProviderError("connection_error", `cannot reach upstream: ${messageOf(error)}`, { cause: error })));
    request.once("response", (res) => {
      response = res;
      // Errors are reported through the reader (readWhole, eventsOf); one after that is moot.
      res.on("error", ignore);
      res.once("close", detach);
      onResponse(res, settle);
    });
    request.end(body);
  });
}

function readWhole(response: IncomingMessage, settle: Settle<WireReply>): void {
  response.setEncoding("utf8");
  let body = "";
  response.on("data", (chunk: string) => (body += chunk));
  response.once("end", () => settle.resolve({ status: response.statusCode ?? 502, body, headers: response.headers }));
  // A connection cut mid-body errors the response (or only closes it, on some Node versions).
  response.on("error", (error) => settle.fail(broken(error)));
  response.once("close", () => {
    if (!response.complete) settle.fail(broken(new Error("connection closed before the body ended")));
  });
}

/**
 * Each event, in order (comments and keep-alives dropped; a multi-line data field joined
 * with newlines). Throws "aborted" once the signal fired, or a connection_error when the
 * connection breaks; ends when the response does.
 */
async function* eventsOf(response: IncomingMessage, signal: CallSignal): AsyncGenerator<readonly WireEvent[]> {
  let ready: WireEvent[] = [];
  let overflow = false;
  const parser = createParser({
    onEvent: (event) => void ready.push(event),
    onError: (error) => void (overflow ||= error.type === "max-buffer-size-exceeded"),
    maxBufferSize: MAX_EVENT_CHARS,
  });
  response.setEncoding("utf8");
  try {
    for await (const text of response as AsyncIterable<string>) {
      parser.feed(text);
      if (overflow) throw new ProviderError("malformed", `upstream sent an event larger than ${MAX_EVENT_CHARS} characters`);
      if (ready.length === 0) continue;
      const batch = ready;
      ready = [];
      yield batch;
    }
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    throw signal.aborted ? aborted(signal) : broken(error);
  }
}

const ignore = () => {};

function aborted(signal: CallSignal): ProviderError {
  return new ProviderError("aborted", "request aborted", { cause: signal.reason });
}

function broken(error: unknown): ProviderError {
  return new ProviderError("connection_error", `upstream connection broke: ${messageOf(error)}`, { cause: error });
}

function messageOf(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return typeof code === "string" ? code : typeof message === "string" ? message : String(error);
}
