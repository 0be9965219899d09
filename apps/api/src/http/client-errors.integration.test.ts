/**
 * HTTP no client library would send, written byte for byte on a TCP socket to a real
 * Switchboard: a garbled request line, headers over the size limit or holding a forbidden
 * byte, an `Expect` the server cannot meet, a request that never arrives whole. Each gets the
 * REST error shape with its own status, `x-request-id`, the security headers and
 * `connection: close`, and one warn line naming the client (never what it sent); a response
 * already under way on the connection is never written into.
 */
import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";

type Line = Record<string, unknown>;

function capture(): { sink: Writable; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { sink, lines };
}

interface Exchange {
  socket: Socket;
  /** Everything received so far. */
  text(): string;
  /** Resolves once the received text contains `needle`. */
  waitFor(needle: string): Promise<void>;
  /** All that was received, once the server closed the connection. */
  closed: Promise<string>;
}

function open(baseUrl: string, bytes: string): Promise<Exchange> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      let text = "";
      const waiters: Array<{ needle: string; done: () => void }> = [];
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
        for (const w of [...waiters]) if (text.includes(w.needle)) w.done();
      });
      // A reset after the answer still counts as closed: what matters is what arrived.
      socket.on("error", () => undefined);
      const closed = new Promise<string>((done) => socket.once("close", () => done(text)));
      socket.write(bytes, "latin1");
      resolve({
        socket,
        text: () => text,
        waitFor: (needle) => new Promise<void>((done) => (text.includes(needle) ? done() : waiters.push({ needle, done }))),
        closed,
      });
    });
    socket.once("error", reject);
  });
}

const exchange = async (baseUrl: string, bytes: string) => (await open(baseUrl, bytes)).closed;

interface Answer {
  statusLine: string;
  headers: Record<string, string>;
  body: unknown;
}

function parse(text: string): Answer {
  const [head = "", body = ""] = text.split("\r\n\r\n");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { statusLine, headers, body: JSON.parse(body) };
}

const refusals = (lines: Line[]) => lines.filter((l) => typeof l["msg"] === "string" && (l["msg"] as string).startsWith("refused a"));

let t: TestApp;
let log: ReturnType<typeof capture>;
beforeAll(async () => {
  log = capture();
  t = await startTestApp({ mode: "embedded", env: { LOG_LEVEL: "warn" }, logDestination: log.sink });
});
afterAll(async () => t?.close());

describe("HTTP the parser refuses", () => {
  it.each([
    ["a garbled request line", "GARBAGE\r\n\r\n", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: /],
    ["a header section over the size limit", `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`, "431 Request Header Fields Too Large", "BAD_REQUEST", /^Request header fields too large \(limit 16 KB/],
    ["a control character in a header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: Invalid header value char/],
    ["a space in a header name", "GET /health HTTP/1.1\r\nHost: x\r\nX Bad: 1\r\n\r\n", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: /],
  ])("%s: our error shape, status, request id, security headers, connection: close, one warn line", async (_label, bytes, status, code, message) => {
    const before = refusals(log.lines).length;
    const answer = parse(await exchange(t.url, bytes));
    expect(answer.statusLine).toBe(`HTTP/1.1 ${status}`);
    expect(answer.body).toEqual({ error: { code, message: expect.stringMatching(message) } });
    expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(answer.headers["connection"]).toBe("close");
    expect(answer.headers["x-content-type-options"]).toBe("nosniff");
    expect(answer.headers["content-security-policy"]).toContain("default-src 'self'");
    const requestId = answer.headers["x-request-id"];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

    const lines = refusals(log.lines).slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, reqId: requestId, ip: "127.0.0.1", status: Number(status.slice(0, 3)), answered: true });
    // What the client sent stays out of the log.
    expect(JSON.stringify(lines[0])).not.toMatch(/GARBAGE|aaaa|X-Bad|X Bad/);
  });

  it("an Expect other than 100-continue: 417 in our shape, with the caller's request id", async () => {
    const before = refusals(log.lines).length;
    const answer = parse(await exchange(t.url, "GET /health HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nX-Request-Id: caller-id-1\r\n\r\n"));
    expect(answer.statusLine).toBe("HTTP/1.1 417 Expectation Failed");
    expect(answer.body).toEqual({ error: { code: "BAD_REQUEST", message: expect.stringContaining("100-continue") } });
    expect(answer.headers).toMatchObject({ "x-request-id": "caller-id-1", connection: "close", "x-content-type-options": "nosniff" });
    expect(refusals(log.lines).slice(before)).toEqual([expect.objectContaining({ level: 40, reqId: "caller-id-1", ip: "127.0.0.1", status: 417 })]);
  });

  it("a response already under way is never written into: the connection ends, the stream stays clean", async () => {
    const before = refusals(log.lines).length;
    const stream = await open(t.url, "GET /trpc/emergency.watch HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    await stream.waitFor('"active"');
    // A garbled request pipelined behind the open stream.
    stream.socket.write("GARBAGE\r\n\r\n");
    const text = await stream.closed;
    expect(text.startsWith("HTTP/1.1 200 OK")).toBe(true);
    expect(text.slice(1)).not.toContain("HTTP/1.1 400");
    expect(text).not.toContain("BAD_REQUEST");
    expect(refusals(log.lines).slice(before)).toEqual([expect.objectContaining({ level: 40, status: 400, answered: false })]);
  });
});

describe("a request not whole in time", () => {
  let slow: TestApp;
  let slowLog: ReturnType<typeof capture>;
  beforeAll(async () => {
    slowLog = capture();
    slow = await startTestApp({ mode: "embedded", env: { LOG_LEVEL: "warn", REQUEST_TIMEOUT_MS: "1000" }, logDestination: slowLog.sink });
  });
  afterAll(async () => slow?.close());

  it("headers that stop halfway: 408 in our shape", async () => {
    const answer = parse(await exchange(slow.url, "GET /health HTTP/1.1\r\nHost: x\r\n"));
    expect(answer.statusLine).toBe("HTTP/1.1 408 Request Timeout");
    expect(answer.body).toEqual({ error: { code: "BAD_REQUEST", message: "The request did not arrive whole in time" } });
    expect(answer.headers).toMatchObject({ connection: "close", "x-content-type-options": "nosniff" });
    expect(refusals(slowLog.lines)).toEqual([expect.objectContaining({ level: 40, status: 408, ip: "127.0.0.1", reqId: answer.headers["x-request-id"] })]);
  });
});
