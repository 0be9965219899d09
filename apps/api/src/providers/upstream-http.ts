/**
 * The transport of every upstream call (OpenAI-protocol and Anthropic providers alike): one
 * POST of a JSON body over undici's keep-alive connection pools, answered with the status
 * and the body text, or with each server-sent event. In profiles of the proxied chat path the
 * vendors' SDKs (request building, header merging, logging helpers, their AbortControllers)
 * and the web fetch/Headers/Response objects they need cost about a sixth of the gateway's
 * CPU; none of that is needed to send bytes we already have and read bytes back. undici's
 * `request` (Node's own HTTP client, without fetch's web objects) then took a third of the CPU
 * of a `node:http` ClientRequest per call (upstream-pool.ts).
 *
 * Failures of the transport itself are classified here (aborted, connection errors); what
 * a status or a body means is the protocol's business (openai-compatible.ts, anthropic.ts).
 */
import type { IncomingHttpHeaders } from "node:http";
import { StringDecoder } from "node:string_decoder";
import { formatMegabytes } from "@switchboard/schema";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { Dispatcher } from "undici";
import { ProviderError, type CallSignal } from "./types.ts";
import { ANSWER_BYTES_WITHOUT_ROOM, UPSTREAM_ANSWER_ROOM_BYTES, upstreamAnswerRoom } from "./upstream-answer-room.ts";
import { upstreamPool } from "./upstream-pool.ts";

/** One event's data beyond this many characters is not an answer chunk but a broken stream. */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

/**
 * A whole answer past this many bytes is not read to its end: held in memory (then parsed)
 * whole, a broken or hostile upstream's endless body would grow until the process ran out of
 * memory. It is far past any chat answer, and holds the largest embeddings answer the SDKs ask
 * for by default (2,048 vectors of 3,072 dimensions in base64: ~33 MB); the same as floats
 * (~126 MB) is refused.
 */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/**
 * A stream past this many bytes is cut: what is built from it as it passes (the answer's
 * text, a cached or kept copy, the logged body) grows with it. Far past a long answer streamed
 * with its chunks' overhead (~250 bytes a token: 100,000 tokens are ~25 MB), and past most
 * streamed with 20 alternatives' log probabilities for every token (~2.4 kB a token).
 */
export const MAX_STREAM_BYTES = 256 * 1024 * 1024;

/** One server-sent event: its data, and its name when it has one (`event: message_start`). */
export type WireEvent = EventSourceMessage;

/** Where to POST, prepared once per provider (and model, for Azure): URL parts and headers. */
export interface WireEndpoint {
  readonly url: string;
  /** scheme://host[:port] — the connection pool's key. */
  readonly origin: string;
  /** Path and query string. */
  readonly path: string;
  /** Flat [name, value, …] pairs, sent as they are (the caller's headers included). */
  readonly headers: readonly string[];
}

/**
 * The one rule for what a provider is sent, on its calls and its health probe alike: the
 * protocol's own headers (its credential, its version), then the provider's configured
 * headers, which replace any of those whatever their case — an `Authorization` set for a
 * gateway in front of the provider wins over the one built from its API key. Lower-case names.
 */
export function providerHeaders(own: Record<string, string>, configured: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of [...Object.entries(own), ...Object.entries(configured)]) headers[name.toLowerCase()] = value;
  return headers;
}

/** A JSON POST's headers: ours, then providerHeaders (which may replace them), then the body's type. */
export function jsonHeaders(own: Record<string, string>, configured: Record<string, string> = {}): Record<string, string> {
  return { ...providerHeaders({ accept: "application/json", "user-agent": "switchboard", ...own }, configured), "content-type": "application/json" };
}

/**
 * @param headers lower-case names; later entries replace earlier ones. Names and values are
 *   validated when the request is made (a bad one fails that call).
 * @throws ProviderError (connection_error) for a URL that is not http(s).
 */
export function wireEndpoint(url: string, headers: Record<string, string>): WireEndpoint {
  let target: URL;
  try {
    target = new URL(url);
  } catch (error) {
    throw new ProviderError("connection_error", `cannot call upstream: invalid URL ${url}`, { cause: error });
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new ProviderError("connection_error", `cannot call upstream: unsupported protocol ${target.protocol}`);
  }
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) flat.push(name, value);
  return { url, origin: target.origin, path: `${target.pathname}${target.search}`, headers: flat };
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
  const response = await send(endpoint, body, signal);
  return readWhole(response, signal);
}

/** POSTs `body`; a 2xx answer is read as server-sent events, any other whole. */
export async function postForEvents(endpoint: WireEndpoint, body: string, signal: CallSignal): Promise<WireReply | WireEvents> {
  const response = await send(endpoint, body, signal);
  if (response.statusCode < 200 || response.statusCode >= 300) return readWhole(response, signal);
  return { status: response.statusCode, events: eventsOf(response, signal) };
}

/**
 * Makes the request; resolves once the status and headers are in. The call's signal goes to
 * undici, which fails the request (or, later, the body being read) when it fires: that is
 * reported as "aborted"; any other failure before the answer is a "connection_error" naming
 * its cause (ECONNREFUSED…).
 */
async function send(endpoint: WireEndpoint, body: string, signal: CallSignal): Promise<Dispatcher.ResponseData> {
  if (signal.aborted) throw aborted(signal);
  try {
    return await upstreamPool.request({
      origin: endpoint.origin,
      path: endpoint.path,
      method: "POST",
      headers: endpoint.headers as string[],
      body,
      // CallSignal is the part of an AbortSignal undici uses (aborted, reason, abort listeners).
      signal: signal as AbortSignal,
    });
  } catch (error) {
    if (signal.aborted) throw aborted(signal);
    // undici refuses a header name or value from the provider's configuration before sending.
    if (isInvalidArgument(error)) throw new ProviderError("connection_error", `cannot call upstream: ${messageOf(error)}`, { cause: error });
    throw new ProviderError("connection_error", `cannot reach upstream: ${messageOf(error)}`, { cause: error });
  }
}

async function readWhole(response: Dispatcher.ResponseData, signal: CallSignal): Promise<WireReply> {
  const declared = Number(response.headers["content-length"] ?? Number.NaN);
  if (declared > MAX_REPLY_BYTES) throw tooLarge(response);
  const room = new AnswerRoom(response);
  try {
    // A declared length is what undici reads (more bytes would be a framing error): its room
    // is taken before a byte is read. Without one (chunked), the bytes are counted as they come.
    if (Number.isFinite(declared)) room.hold(declared);
    const text = Number.isFinite(declared) ? await response.body.text() : await boundedText(response, room);
    return { status: response.statusCode, body: text, headers: response.headers as IncomingHttpHeaders };
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    // A connection cut mid-body, or the call's abort while the body was read.
    throw signal.aborted ? aborted(signal) : broken(error);
  } finally {
    room.giveBack();
  }
}

/** The body as text, or "malformed" (and the connection dropped) once it passes MAX_REPLY_BYTES. */
async function boundedText(response: Dispatcher.ResponseData, room: AnswerRoom): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > MAX_REPLY_BYTES) throw tooLarge(response);
    room.hold(bytes);
    chunks.push(chunk);
  }
  // As undici's text() reads it: UTF-8, a byte-order mark dropped.
  return new TextDecoder().decode(Buffer.concat(chunks, bytes));
}

/** One whole answer's part of upstreamAnswerRoom: what it holds past the first MB, while it is read. */
class AnswerRoom {
  private held = 0;
  constructor(private readonly response: Dispatcher.ResponseData) {}

  /** Holds room for an answer of `bytes` so far; drops the answer and throws "overloaded" when there is none. */
  hold(bytes: number): void {
    const needed = Math.max(0, bytes - ANSWER_BYTES_WITHOUT_ROOM) - this.held;
    if (needed <= 0) return;
    if (upstreamAnswerRoom.take(needed)) {
      this.response.body.destroy();
      throw new ProviderError(
        "overloaded",
        `no room on this instance for another large upstream answer (${formatMegabytes(UPSTREAM_ANSWER_ROOM_BYTES)} held at once): not read`,
      );
    }
    this.held += needed;
  }

  giveBack(): void {
    upstreamAnswerRoom.giveBack(this.held);
    this.held = 0;
  }
}

/** Drops the answer being read (its connection is not reused) and says why. */
function tooLarge(response: Dispatcher.ResponseData, what = "answer", bound = MAX_REPLY_BYTES): ProviderError {
  response.body.destroy();
  return new ProviderError("malformed", `upstream ${what} larger than ${formatMegabytes(bound)}: not read to its end`);
}

/**
 * Each event, in order (comments and keep-alives dropped; a multi-line data field joined
 * with newlines). Throws "aborted" once the signal fired, or a connection_error when the
 * connection breaks; ends when the response does.
 */
async function* eventsOf(response: Dispatcher.ResponseData, signal: CallSignal): AsyncGenerator<readonly WireEvent[]> {
  let ready: WireEvent[] = [];
  let overflow = false;
  const parser = createParser({
    onEvent: (event) => void ready.push(event),
    onError: (error) => void (overflow ||= error.type === "max-buffer-size-exceeded"),
    maxBufferSize: MAX_EVENT_CHARS,
  });
  // undici's body yields Buffers whatever its encoding; a character may span two of them.
  const decoder = new StringDecoder("utf8");
  let bytes = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > MAX_STREAM_BYTES) throw tooLarge(response, "stream", MAX_STREAM_BYTES);
      parser.feed(decoder.write(chunk));
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

function isInvalidArgument(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "UND_ERR_INVALID_ARG";
}

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
