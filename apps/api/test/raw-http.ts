/**
 * HTTP exactly as an attacker sends it: the path byte for byte (fetch would normalise it),
 * any method, and bodies streamed at a chosen size and pace, stopping as soon as the server
 * answers. Used by the hardening tests and the hardening benchmark.
 */
import { request } from "node:http";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Body bytes written before the answer came (or the upload ended). */
  bytesSent: number;
  /** Milliseconds from the first byte sent to the complete answer. */
  ms: number;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** A whole body, sent at once. */
  body?: string;
  /** Or a generated body of this many bytes, written in `chunkBytes` pieces... */
  streamBytes?: number;
  chunkBytes?: number;
  /** ...every `intervalMs` (0: as fast as the socket takes them). */
  intervalMs?: number;
  /** Declare the length (default) or send chunked. */
  declareLength?: boolean;
}

export function rawRequest(baseUrl: string, opts: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const started = performance.now();
  const total = opts.body !== undefined ? Buffer.byteLength(opts.body) : (opts.streamBytes ?? 0);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.streamBytes !== undefined && opts.declareLength !== false) headers["content-length"] = String(total);
  return new Promise((resolve, reject) => {
    let answered = false;
    let bytesSent = 0;
    const req = request({ host: url.hostname, port: url.port, method: opts.method ?? "GET", path: opts.path, headers }, (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, bytesSent, ms: performance.now() - started });
        req.destroy();
      });
      res.on("error", reject);
    });
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    if (opts.streamBytes === undefined) {
      req.end(opts.body);
      return;
    }
    const chunk = Buffer.alloc(opts.chunkBytes ?? 64 * 1024, "a");
    const pump = () => {
      while (!answered && bytesSent < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - bytesSent));
        bytesSent += piece.length;
        const more = req.write(piece);
        if (opts.intervalMs) {
          setTimeout(pump, opts.intervalMs);
          return;
        }
        if (!more) {
          req.once("drain", pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    req.flushHeaders();
    pump();
  });
}

export interface OpenStream {
  status: number;
  /** Everything received so far. */
  text(): string;
  /** Resolves once the received text contains `needle`. */
  waitFor(needle: string): Promise<void>;
  /** Settles when the server ends the response (or the connection drops). */
  ended: Promise<void>;
  close(): void;
}

/** Opens an SSE response (a tRPC subscription) and keeps reading it in the background. */
export function openStream(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers: { accept: "text/event-stream", ...headers } }, (res) => {
      let text = "";
      const waiters: Array<{ needle: string; done: () => void }> = [];
      const check = () => {
        for (const w of [...waiters]) {
          if (text.includes(w.needle)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.done();
          }
        }
      };
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
        check();
      });
      const ended = new Promise<void>((done) => {
        res.once("end", done);
        res.once("close", done);
        res.once("error", () => done());
      });
      resolve({
        status: res.statusCode ?? 0,
        text: () => text,
        waitFor: (needle) =>
          new Promise((done) => {
            waiters.push({ needle, done });
            check();
          }),
        ended,
        close: () => req.destroy(),
      });
    });
    req.on("error", reject);
    req.end();
  });
}
