/**
 * Requests refused before Fastify sees them: those Node's HTTP parser cannot take (a garbled
 * request line, a header section over the size limit, a byte no header may hold, a request
 * not whole within REQUEST_TIMEOUT_MS), those whose `Expect` the server cannot meet, and
 * `CONNECT`. Left to Node and Fastify, they got bare text, Fastify's own JSON or no answer,
 * with no request id, no security headers and no log line. Here they answer like every other
 * refusal: the REST error shape with the status the fault calls for (OpenAI's shape under /v1,
 * like every /v1 refusal, and Anthropic's under /v1/messages, when the path is known),
 * `x-request-id`, the security headers and `connection: close`, plus one warn line with the
 * client's address (never what it sent).
 * Each answered refusal is also counted in the HTTP metrics and written as an access-log
 * line, like every request (scope-log.ts): by the request Fastify already held, when the
 * fault came in its body, or else under the route `unparsed`.
 */
import { STATUS_CODES, maxHeaderSize, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.ts";
import { restErrorBody } from "./errors.ts";
import { describeError, errorCodeOf } from "./error-map.ts";
import { anthropicErrorBody, isAnthropicPath } from "./anthropic/errors.ts";
import { isOpenAIPath, openAIErrorBody } from "./openai/errors.ts";
import { requestIdOf } from "./request-id.ts";
import { endRefused, UNKNOWN_METHOD } from "./scope-log.ts";
import { SECURITY_HEADERS } from "./security-headers.ts";
import { AppError } from "../services/errors.ts";

/** How long a refused client may take to read the answer and hang up before the socket is cut. */
const LINGER_MS = 5_000;

interface Refusal {
  status: number;
  message: string;
}

/** The parser's or the server's error (`code`, llhttp's `reason`) as the answer it calls for. */
export function refusalOf(error: { code?: unknown; reason?: unknown }): Refusal {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, message: `Request header fields too large (limit ${maxHeaderSize / 1024} KB for the request line and headers together)` };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { status: 413, message: "Chunk extensions too large" };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, message: "The request did not arrive whole in time" };
    default: {
      // llhttp's reasons are fixed phrases ("Invalid method encountered"), never request bytes.
      const reason = typeof error.reason === "string" ? error.reason.slice(0, 120) : "";
      return { status: 400, message: reason ? `Malformed HTTP request: ${reason}` : "Malformed HTTP request" };
    }
  }
}

function answerHeaders(requestId: string): Array<readonly [string, string]> {
  return [["content-type", "application/json; charset=utf-8"], ["connection", "close"], ["x-request-id", requestId], ...SECURITY_HEADERS];
}

/**
 * The error body, with the app code the error table gives the status, in the dialect of the
 * path asked for: OpenAI's under /v1, as every /v1 refusal; REST elsewhere, or when the
 * path is unknown.
 */
function bodyOf(refusal: Refusal, path: string | undefined): string {
  const described = describeError(new AppError(errorCodeOf(refusal.status), refusal.message));
  if (path !== undefined && isAnthropicPath(path)) return JSON.stringify(anthropicErrorBody(described));
  return JSON.stringify(path !== undefined && isOpenAIPath(path) ? openAIErrorBody(described) : restErrorBody(described));
}

/**
 * The path of the request a faulty packet starts, if it starts one. Node hands over the URL
 * only with the whole header section, so a fault in the headers comes before it; but when
 * the request line came in the same read as the fault (headers sent at once, as clients
 * do), it opens the packet. A request line that came in an earlier read is not seen here,
 * and its refusal keeps the REST shape. Only the answer's dialect depends on it.
 */
function pathInPacket(packet: unknown): string | undefined {
  if (!Buffer.isBuffer(packet)) return undefined;
  return /^[A-Z]+ (\/\S*)/.exec(packet.subarray(0, 256).toString("latin1"))?.[1];
}

/** A whole HTTP/1.1 response, as bytes to write on a socket no ServerResponse owns. */
function rawAnswer(refusal: Refusal, requestId: string, path: string | undefined, extraHeaders: ReadonlyArray<readonly [string, string]> = []): string {
  const body = bodyOf(refusal, path);
  const headers = [...answerHeaders(requestId), ...extraHeaders];
  const head = [`HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ""}`, ...headers.map(([n, v]) => `${n}: ${v}`), `content-length: ${Buffer.byteLength(body)}`];
  return `${head.join("\r\n")}\r\n\r\n${body}`;
}

/** Sockets already refused: a failed parser reports every later chunk as the same error. */
const answered = new WeakSet<Socket>();

type Telemetry = Pick<AppDeps, "metrics" | "requestLog">;

/**
 * The id of the request Fastify holds on this response, which telemetry set on it: that
 * request counts and logs itself when its response closes.
 */
function heldRequestId(response: ServerResponse | null | undefined): string | undefined {
  const id = response?.getHeader("x-request-id");
  return typeof id === "string" ? id : undefined;
}

/** A `clientError`: the parser's or server's code, and (from the parser) the packet it failed in. */
type ClientError = Error & { code?: string; rawPacket?: unknown };

/** The server's `clientError` listener (Fastify's `clientErrorHandler` option). */
export function clientErrorHandler(log: FastifyBaseLogger, telemetry: Telemetry): (error: ClientError, socket: Socket) => void {
  return (error, socket) => {
    // Answered already: the socket is ending, and what still arrives is dropped here.
    if (answered.has(socket)) return;
    // A reset connection is gone: nobody to answer, nothing hostile to note.
    if (error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    answered.add(socket);
    const refusal = refusalOf(error);
    // The answer goes on the socket only if nothing else has: a response under way on it (a
    // stream, say, with a garbled request pipelined behind it) would be corrupted by it.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    const canAnswer = !socket.destroyed && socket.writable && !inFlight?.headersSent;
    // A fault in a body (a bad chunk, a body trickled past the deadline) refuses the request
    // Fastify already holds: the answer carries its id, and the status set on its response
    // here is what its own access-log line and metrics report when it closes.
    const heldId = canAnswer ? heldRequestId(inFlight) : undefined;
    const requestId = heldId ?? requestIdOf({});
    const path = heldId !== undefined ? inFlight?.req.url : pathInPacket(error.rawPacket);
    log.warn({ reqId: requestId, ip: socket.remoteAddress, status: refusal.status, code: error.code, reason: refusal.message, answered: canAnswer }, "refused a malformed request");
    if (!canAnswer) {
      socket.destroy();
      return;
    }
    if (heldId !== undefined && inFlight) inFlight.statusCode = refusal.status;
    else endRefused(telemetry, log.child({ reqId: requestId }), { requestId, method: UNKNOWN_METHOD, status: refusal.status });
    endWith(socket, rawAnswer(refusal, requestId, path));
  };
}

/**
 * Ended, not destroyed: closing with the client's bytes still unread would reset the
 * connection, and a reset can cost the client the answer. Whatever it still sends is read
 * and dropped until it hangs up, or until LINGER_MS.
 */
function endWith(socket: Socket, answer: string): void {
  socket.end(answer);
  const cut = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once("close", () => clearTimeout(cut));
}

/**
 * `Expect` other than `100-continue`: Node answers a bare 417 itself unless someone listens
 * for `checkExpectation`. The request parsed, so the caller's x-request-id is kept, and its
 * method (one of the parser's fixed set) labels it.
 */
export function registerExpectationRefusal(app: FastifyInstance, telemetry: Telemetry): void {
  app.server.on("checkExpectation", (request: IncomingMessage, response: ServerResponse) => {
    const requestId = requestIdOf(request.headers);
    const refusal: Refusal = { status: 417, message: "Expectation not supported: only `Expect: 100-continue` is" };
    app.log.warn({ reqId: requestId, ip: request.socket.remoteAddress, status: refusal.status, reason: refusal.message }, "refused an unmet expectation");
    endRefused(telemetry, app.log.child({ reqId: requestId }), { requestId, method: request.method ?? UNKNOWN_METHOD, status: refusal.status });
    const body = bodyOf(refusal, request.url);
    response.writeHead(refusal.status, Object.fromEntries([...answerHeaders(requestId), ["content-length", String(Buffer.byteLength(body))]]));
    response.end(body);
  });
}

/**
 * `CONNECT host:port`, a forward proxy's method: Switchboard is none. Node takes such a
 * request out of its HTTP parser and, with nobody listening for `connect`, drops the socket
 * without a word, so the client saw a reset or a hang. It gets a 405 like any refusal here,
 * with the Allow header a 405 must carry: the methods some route of this server serves.
 */
export function registerConnectRefusal(app: FastifyInstance, telemetry: Telemetry): void {
  const served = new Set<string>();
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) served.add(method);
  });
  app.server.on("connect", (request: IncomingMessage, socket: Socket) => {
    // The parser's listeners left with it: without one of ours, a reset would be an uncaught error.
    socket.on("error", () => socket.destroy());
    const requestId = requestIdOf(request.headers);
    const refusal: Refusal = { status: 405, message: "CONNECT is not allowed: Switchboard is not a proxy" };
    app.log.warn({ reqId: requestId, ip: socket.remoteAddress, status: refusal.status, reason: refusal.message }, "refused a CONNECT request");
    // CONNECT, from the parser's fixed set of methods; never the target, which the client chose.
    endRefused(telemetry, app.log.child({ reqId: requestId }), { requestId, method: "CONNECT", status: refusal.status });
    // Node hands the socket over paused: read (and drop) what follows, so the end is clean.
    socket.resume();
    endWith(socket, rawAnswer(refusal, requestId, request.url, [["allow", [...served].join(", ")]]));
  });
}
