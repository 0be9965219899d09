/**
 * A `fetch` for the Anthropic SDK built on node:http(s) with keep-alive agents. Node's global
 * fetch (undici) was the largest CPU cost of a proxied chat call in profiles (~15% of the
 * gateway's CPU per request); this keeps the SDK and its parsing, and swaps only the
 * transport. Semantics the SDK relies on are kept: an aborted signal rejects with an
 * AbortError (also mid-body), network failures reject with a TypeError, and the response
 * body is a web ReadableStream (SSE streaming, `json()`).
 */
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { agentFor } from "./upstream-agents.ts";

/** Responses that must not have a body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A Response whose body is already in memory. `new Response(bytes)` wraps the bytes in a web
 * ReadableStream that json()/text() then read back: in profiles of the non-stream chat path
 * that wrapping was the transport's largest single cost (~1/20 of the gateway's CPU per
 * request). This answers json(), text() and arrayBuffer() from the bytes directly; `body`
 * (which the SDK reads only for SSE) still gives a real stream, made on first use.
 */
function bufferedResponse(bytes: Buffer, init: ResponseInit): Response {
  const response = new Response(null, init);
  let used = false;
  let stream: ReadableStream<Uint8Array> | null | undefined;
  const take = (): Buffer => {
    if (used) throw new TypeError("Body is unusable: Body has already been read");
    used = true;
    return bytes;
  };
  // Own properties shadow Response.prototype's body readers on this one object only.
  Object.defineProperties(response, {
    body: { get: () => (stream ??= new Response(new Uint8Array(bytes)).body) },
    bodyUsed: { get: () => used },
    text: { value: async () => take().toString("utf8") },
    json: { value: async (): Promise<unknown> => JSON.parse(take().toString("utf8")) },
    arrayBuffer: {
      value: async () => {
        const b = take();
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      },
    },
    clone: {
      value: () => {
        if (used) throw new TypeError("Response.clone: Body has already been consumed.");
        return bufferedResponse(bytes, { status: response.status, statusText: response.statusText, headers: response.headers });
      },
    },
  });
  return response;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.name === "AbortError" ? reason : new DOMException("This operation was aborted", "AbortError");
}

function headerObject(headers: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(headers).forEach((value, key) => (out[key] = value));
  return out;
}

export const nodeHttpFetch: typeof fetch = (input, init) =>
  new Promise<Response>((resolve, reject) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const agent = agentFor(url.protocol);
    const signal = init?.signal ?? undefined;
    if (!agent) return reject(new TypeError(`unsupported protocol ${url.protocol}`));
    if (signal?.aborted) return reject(abortError(signal));
    const body = init?.body;
    if (body !== undefined && body !== null && typeof body !== "string") {
      // The SDK sends JSON strings for chat; anything else goes through the standard fetch.
      return resolve(fetch(input, init));
    }

    const request = (url.protocol === "https:" ? https : http).request(url, {
      method: init?.method ?? "GET",
      headers: headerObject(init?.headers),
      agent,
    });
    let response: http.IncomingMessage | undefined;
    const onAbort = () => {
      const error = abortError(signal!);
      // Before the response: reject; during the body: error the body (SSE) or reject (JSON).
      if (response) response.destroy(error);
      else reject(error);
      request.destroy(error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const detach = () => signal?.removeEventListener("abort", onAbort);

    request.once("error", (error) => {
      detach();
      if (!response) reject(signal?.aborted ? abortError(signal) : new TypeError("fetch failed", { cause: error }));
    });
    request.once("response", (res) => {
      response = res;
      res.once("close", detach);
      const headers = new Headers();
      for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
      const status = res.statusCode ?? 502;
      const init = { status, statusText: res.statusMessage ?? "", headers };
      if (NULL_BODY_STATUSES.has(status)) {
        res.resume();
        return resolve(new Response(null, init));
      }
      if (String(res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
        return resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, init));
      }
      // Anything but SSE (a whole JSON completion, an error body) is read here and handed over
      // as bytes: bridging a Node stream into a web ReadableStream (Readable.toWeb) cost about
      // as much CPU as the rest of the transport in profiles of the non-stream chat path. The
      // fetch promise then settles after the body, so an abort or a cut connection mid-body
      // rejects it (AbortError / TypeError) instead of erroring the body stream — the SDK
      // classifies both the same way.
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("end", () => resolve(bufferedResponse(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), init)));
      res.once("error", () => {}); // an abort destroys res with the error; "close" rejects
      res.once("close", () => {
        if (res.complete) return;
        reject(signal?.aborted ? abortError(signal) : new TypeError("fetch failed", { cause: new Error("connection closed before the body ended") }));
      });
    });
    request.end(body ?? undefined);
  });
