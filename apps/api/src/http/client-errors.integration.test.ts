/**
 * HTTP no client library would send, written byte for byte on a TCP socket to a real
 * Switchboard: a garbled request line, headers over the size limit or holding a forbidden
 * byte, an `Expect` the server cannot meet, a bad chunk, a request that never arrives whole,
 * a CONNECT. Each gets the REST error shape (OpenAI's on a /v1 path, when the path is known)
 * with its own status, `x-request-id`, the security headers and `connection: close`, one warn
 * line naming the client (never what it sent), one access-log line and a count in the HTTP
 * metrics, like any request; a response already under way on the connection is never
 * written into.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { eventually } from "../../test/chat.ts";
import { captureLog, type LogLine } from "../../test/log-capture.ts";
import { scrapedSum } from "../../test/prometheus-parser.ts";

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

const refusals = (lines: LogLine[]) => lines.filter((l) => typeof l["msg"] === "string" && (l["msg"] as string).startsWith("refused a"));

/** The access-log lines of one request. */
const accessLines = (lines: LogLine[], requestId: string | undefined) => lines.filter((l) => l["msg"] === "request" && l["reqId"] === requestId);

/** The access-log line of one request, once its response has closed. */
const accessLine = (lines: LogLine[], requestId: string | undefined) => eventually(async () => accessLines(lines, requestId)[0], `the access line of ${requestId}`);

/** How many requests /metrics has counted with these labels, and how many it has timed. */
const counted = async (baseUrl: string, labels: { method: string; route: string; status: string }) => {
  const { status: _status, ...timed } = labels;
  return {
    requests: await scrapedSum(baseUrl, "switchboard_http_requests_total", labels),
    timed: await scrapedSum(baseUrl, "switchboard_http_request_duration_seconds_count", timed),
  };
};

/** The labels a request refused before Fastify had it is counted under: nothing the client sent. */
const unparsed = (status: string) => ({ method: "UNKNOWN", route: "unparsed", status });

let t: TestApp;
let log: ReturnType<typeof captureLog>;
beforeAll(async () => {
  log = captureLog();
  t = await startTestApp({ mode: "embedded", env: { LOG_LEVEL: "info" }, logDestination: log.sink });
});
afterAll(async () => t?.close());

describe("HTTP the parser refuses", () => {
  it.each([
    ["a garbled request line", "GARBAGE\r\n\r\n", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: /],
    ["a header section over the size limit", `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`, "431 Request Header Fields Too Large", "BAD_REQUEST", /^Request header fields too large \(limit 16 KB/],
    ["a control character in a header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: Invalid header value char/],
    ["a space in a header name", "GET /health HTTP/1.1\r\nHost: x\r\nX Bad: 1\r\n\r\n", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: /],
    ["two Content-Length headers", "POST /trpc/auth.login HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: Duplicate Content-Length/],
  ])("%s: our error shape, status, request id, security headers, connection: close, one warn line, counted and logged", async (_label, bytes, status, code, message) => {
    const before = refusals(log.lines).length;
    const countedBefore = await counted(t.url, unparsed(status.slice(0, 3)));
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

    // One access-log line, in the shape of every other, and one more request in the metrics.
    const [access, ...more] = accessLines(log.lines, requestId);
    expect(more).toEqual([]);
    expect(access).toMatchObject({ level: 30, method: "UNKNOWN", route: "unparsed", status: Number(status.slice(0, 3)), outcome: code, userId: null, ms: expect.any(Number) });
    expect(access).not.toHaveProperty("url");
    expect(await counted(t.url, unparsed(status.slice(0, 3)))).toEqual({ requests: countedBefore.requests + 1, timed: countedBefore.timed + 1 });

    // What the client sent stays out of the log.
    expect(JSON.stringify([lines[0], access])).not.toMatch(/GARBAGE|aaaa|X-Bad|X Bad|\/health|auth\.login/);
  });

  it("an Expect other than 100-continue: 417 in our shape, with the caller's request id, counted and logged under its method", async () => {
    const before = refusals(log.lines).length;
    const countedBefore = await counted(t.url, { method: "GET", route: "unparsed", status: "417" });
    const answer = parse(await exchange(t.url, "GET /health HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nX-Request-Id: caller-id-1\r\n\r\n"));
    expect(answer.statusLine).toBe("HTTP/1.1 417 Expectation Failed");
    expect(answer.body).toEqual({ error: { code: "BAD_REQUEST", message: expect.stringContaining("100-continue") } });
    expect(answer.headers).toMatchObject({ "x-request-id": "caller-id-1", connection: "close", "x-content-type-options": "nosniff" });
    expect(refusals(log.lines).slice(before)).toEqual([expect.objectContaining({ level: 40, reqId: "caller-id-1", ip: "127.0.0.1", status: 417 })]);
    expect(accessLines(log.lines, "caller-id-1")).toEqual([expect.objectContaining({ level: 30, method: "GET", route: "unparsed", status: 417, outcome: "BAD_REQUEST" })]);
    expect(accessLines(log.lines, "caller-id-1")[0]).not.toHaveProperty("url");
    expect((await counted(t.url, { method: "GET", route: "unparsed", status: "417" })).requests).toBe(countedBefore.requests + 1);
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
    const [refusal, ...more] = refusals(log.lines).slice(before);
    expect(more).toEqual([]);
    expect(refusal).toMatchObject({ level: 40, status: 400, answered: false });
    // Nothing was sent for it, so no status to count; the stream it cut has its own line.
    expect(accessLines(log.lines, refusal!["reqId"] as string)).toEqual([]);
  });
});

describe("on /v1/messages, Anthropic's error shape, as every refusal there", () => {
  it("headers over the size limit, sent with the request line: 431 in Anthropic's shape", async () => {
    const answer = parse(await exchange(t.url, `POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`));
    expect(answer.statusLine).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(answer.body).toEqual({ type: "error", error: { type: "invalid_request_error", message: expect.stringMatching(/^Request header fields too large \(limit 16 KB/) } });
    expect(answer.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("on /v1, OpenAI's error shape, as every /v1 refusal", () => {
  const openAIError = (message: RegExp | string) => ({ error: { message: typeof message === "string" ? message : expect.stringMatching(message), type: "invalid_request_error", param: null, code: "bad_request" } });

  it("headers over the size limit, sent with the request line: 431 in OpenAI's shape, everything else as on any path", async () => {
    const before = refusals(log.lines).length;
    const countedBefore = await counted(t.url, unparsed("431"));
    const answer = parse(await exchange(t.url, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`));
    expect(answer.statusLine).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(answer.body).toEqual(openAIError(/^Request header fields too large \(limit 16 KB/));
    expect(answer.headers).toMatchObject({ "content-type": "application/json; charset=utf-8", connection: "close", "x-content-type-options": "nosniff" });
    const requestId = answer.headers["x-request-id"];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(refusals(log.lines).slice(before)).toEqual([expect.objectContaining({ level: 40, reqId: requestId, ip: "127.0.0.1", status: 431, answered: true })]);
    expect(JSON.stringify(refusals(log.lines).slice(before))).not.toMatch(/\/v1|aaaa/);
    expect(accessLines(log.lines, requestId)).toEqual([expect.objectContaining({ method: "UNKNOWN", route: "unparsed", status: 431, outcome: "BAD_REQUEST" })]);
    expect(await counted(t.url, unparsed("431"))).toEqual({ requests: countedBefore.requests + 1, timed: countedBefore.timed + 1 });
  });

  it("headers over the size limit whose request line came in an earlier read: the path is not known, so the REST shape", async () => {
    const requestLine = "GET /v1/models HTTP/1.1\r\nHost: x\r\n";
    const accepted: Socket[] = [];
    const onConnection = (socket: Socket) => accepted.push(socket);
    t.server.server.on("connection", onConnection);
    const exchanged = await open(t.url, requestLine);
    // Once the server's end of this connection has read the request line, Node has parsed it
    // (the parser runs in the same read); the overflow then arrives in a read of its own.
    const serverEnd = () => accepted.find((socket) => socket.remotePort === exchanged.socket.localPort);
    await expect.poll(() => serverEnd()?.bytesRead).toBe(requestLine.length);
    t.server.server.off("connection", onConnection);
    exchanged.socket.write(`X-Big: ${"a".repeat(100_000)}\r\n\r\n`);
    const answer = parse(await exchanged.closed);
    expect(answer.statusLine).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect(answer.body).toEqual({ error: { code: "BAD_REQUEST", message: expect.stringMatching(/^Request header fields too large/) } });
    expect(answer.headers).toMatchObject({ connection: "close", "x-content-type-options": "nosniff" });
  });

  it("a malformed header on a /v1 path: 400 in OpenAI's shape", async () => {
    const answer = parse(await exchange(t.url, "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n"));
    expect(answer.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(answer.body).toEqual(openAIError(/^Malformed HTTP request: Invalid header value char/));
    expect(answer.headers).toMatchObject({ connection: "close" });
  });

  it("an Expect other than 100-continue: 417 in OpenAI's shape, with the caller's request id, logged and counted", async () => {
    const before = refusals(log.lines).length;
    const answer = parse(await exchange(t.url, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nX-Request-Id: caller-v1-417\r\nContent-Length: 2\r\n\r\n{}"));
    expect(answer.statusLine).toBe("HTTP/1.1 417 Expectation Failed");
    expect(answer.body).toEqual(openAIError(/100-continue/));
    expect(answer.headers).toMatchObject({ "content-type": "application/json; charset=utf-8", "x-request-id": "caller-v1-417", connection: "close", "x-content-type-options": "nosniff" });
    expect(refusals(log.lines).slice(before)).toEqual([expect.objectContaining({ level: 40, reqId: "caller-v1-417", status: 417 })]);
    expect(accessLines(log.lines, "caller-v1-417")).toEqual([expect.objectContaining({ method: "POST", route: "unparsed", status: 417, outcome: "BAD_REQUEST" })]);
  });

  it("a bad chunk in the body of a /v1 request: 400 in OpenAI's shape, under the request's own id", async () => {
    // Signed in: a chunked /v1 body is read only for a valid credential (a 401 before reading otherwise).
    const { token } = await t.userWithRole("USER");
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\nX-Request-Id: held-v1\r\n\r\n`;
    const answer = parse(await exchange(t.url, `${head}ZZ\r\n`));
    expect(answer.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(answer.body).toEqual(openAIError(/^Malformed HTTP request: /));
    expect(answer.headers).toMatchObject({ "x-request-id": "held-v1", connection: "close" });
    expect((await accessLine(log.lines, "held-v1"))).toMatchObject({ method: "POST", url: "/v1/chat/completions", status: 400 });
    // Without a credential the same: the bad chunk is refused before the credential is checked,
    // and the log says what the client got.
    const anonymous = head.replace(/Authorization: [^\r]*\r\n/, "").replace("held-v1", "held-v1-anonymous");
    expect(parse(await exchange(t.url, `${anonymous}ZZ\r\n`)).statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect((await accessLine(log.lines, "held-v1-anonymous"))).toMatchObject({ url: "/v1/chat/completions", status: 400 });
  });
});

describe("CONNECT, a proxy's method", () => {
  it("is answered 405 in our shape and the connection closed, never left hanging", async () => {
    const before = refusals(log.lines).length;
    const countedBefore = await counted(t.url, { method: "CONNECT", route: "unparsed", status: "405" });
    const exchanged = await open(t.url, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Request-Id: connect-1\r\n\r\n");
    const text = await Promise.race([exchanged.closed, new Promise<string>((resolve) => setTimeout(() => resolve(`no close within 3 s; got ${JSON.stringify(exchanged.text())}`), 3_000))]);
    exchanged.socket.destroy();
    const answer = parse(text);
    expect(answer.statusLine).toBe("HTTP/1.1 405 Method Not Allowed");
    expect(answer.body).toEqual({ error: { code: "METHOD_NOT_ALLOWED", message: expect.stringContaining("CONNECT is not allowed") } });
    expect(answer.headers).toMatchObject({ "content-type": "application/json; charset=utf-8", connection: "close", "x-request-id": "connect-1", "x-content-type-options": "nosniff" });
    // A 405 names what is allowed: the methods this server's routes serve, never CONNECT.
    expect(answer.headers["allow"]?.split(", ")).toEqual(expect.arrayContaining(["GET", "HEAD", "POST"]));
    expect(answer.headers["allow"]).not.toContain("CONNECT");
    expect(refusals(log.lines).slice(before)).toEqual([expect.objectContaining({ level: 40, reqId: "connect-1", ip: "127.0.0.1", status: 405 })]);
    expect(JSON.stringify(refusals(log.lines).slice(before))).not.toContain("example.com");
    expect(accessLines(log.lines, "connect-1")).toEqual([expect.objectContaining({ level: 30, method: "CONNECT", route: "unparsed", status: 405, outcome: "METHOD_NOT_ALLOWED" })]);
    expect((await counted(t.url, { method: "CONNECT", route: "unparsed", status: "405" })).requests).toBe(countedBefore.requests + 1);
  });

  it("bytes sent after the request (a TLS hello, say) change nothing: the same 405, then the close", async () => {
    const exchanged = await open(t.url, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\u0016\u0003\u0001\u0002\u0000\u0001");
    exchanged.socket.write("more bytes");
    const text = await Promise.race([exchanged.closed, new Promise<string>((resolve) => setTimeout(() => resolve("no close within 3 s"), 3_000))]);
    exchanged.socket.destroy();
    expect(parse(text).statusLine).toBe("HTTP/1.1 405 Method Not Allowed");
  });
});

describe("a fault in the body of a request the server already holds", () => {
  it.each([
    ["a chunk size that is no number", "ZZ\r\n", "400 Bad Request", "BAD_REQUEST", /^Malformed HTTP request: /],
    ["chunk extensions over the limit", `1;ext=${"b".repeat(20_000)}\r\n`, "413 Payload Too Large", "PAYLOAD_TOO_LARGE", /^Chunk extensions too large$/],
  ])("%s: answered under the request's own id, logged and counted on its route with the status sent", async (label, chunk, status, code, message) => {
    const requestId = `held-${label.length}`;
    const labels = { method: "POST", route: "/trpc/:path", status: status.slice(0, 3) };
    const countedBefore = await counted(t.url, labels);
    const unparsedBefore = await counted(t.url, unparsed(status.slice(0, 3)));
    const head = `POST /trpc/auth.login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nX-Request-Id: ${requestId}\r\n\r\n`;
    const answer = parse(await exchange(t.url, head + chunk));
    expect(answer.statusLine).toBe(`HTTP/1.1 ${status}`);
    expect(answer.body).toEqual({ error: { code, message: expect.stringMatching(message) } });
    expect(answer.headers).toMatchObject({ "x-request-id": requestId, connection: "close", "x-content-type-options": "nosniff" });
    expect(refusals(log.lines).filter((l) => l["reqId"] === requestId)).toEqual([expect.objectContaining({ level: 40, status: Number(status.slice(0, 3)), answered: true })]);

    const access = await accessLine(log.lines, requestId);
    expect(accessLines(log.lines, requestId)).toHaveLength(1);
    expect(access).toMatchObject({ level: 30, method: "POST", route: "/trpc/:path", url: "/trpc/auth.login", status: Number(status.slice(0, 3)), outcome: code });
    expect(JSON.stringify(access)).not.toMatch(/ZZ|bbbb/);
    expect(await counted(t.url, labels)).toEqual({ requests: countedBefore.requests + 1, timed: countedBefore.timed + 1 });
    // Counted once: as the request it was, not also as an unparsed one.
    expect(await counted(t.url, unparsed(status.slice(0, 3)))).toEqual(unparsedBefore);
  });
});

describe("a request not whole in time", () => {
  let slow: TestApp;
  let slowLog: ReturnType<typeof captureLog>;
  beforeAll(async () => {
    slowLog = captureLog();
    slow = await startTestApp({ mode: "embedded", env: { LOG_LEVEL: "info", REQUEST_TIMEOUT_MS: "1000" }, logDestination: slowLog.sink });
  });
  afterAll(async () => slow?.close());

  it("headers that stop halfway: 408 in our shape, logged and counted as unparsed", async () => {
    const countedBefore = await counted(slow.url, unparsed("408"));
    const answer = parse(await exchange(slow.url, "GET /health HTTP/1.1\r\nHost: x\r\n"));
    expect(answer.statusLine).toBe("HTTP/1.1 408 Request Timeout");
    expect(answer.body).toEqual({ error: { code: "BAD_REQUEST", message: "The request did not arrive whole in time" } });
    expect(answer.headers).toMatchObject({ connection: "close", "x-content-type-options": "nosniff" });
    const requestId = answer.headers["x-request-id"];
    expect(refusals(slowLog.lines).filter((l) => l["reqId"] === requestId)).toEqual([expect.objectContaining({ level: 40, status: 408, ip: "127.0.0.1" })]);
    expect(accessLines(slowLog.lines, requestId)).toEqual([expect.objectContaining({ level: 30, method: "UNKNOWN", route: "unparsed", status: 408, outcome: "BAD_REQUEST" })]);
    expect(await counted(slow.url, unparsed("408"))).toEqual({ requests: countedBefore.requests + 1, timed: countedBefore.timed + 1 });
  });

  it("a body that stops halfway: 408 under the request's own id, logged and counted on its route", async () => {
    const labels = { method: "POST", route: "/trpc/:path", status: "408" };
    const countedBefore = await counted(slow.url, labels);
    const answer = parse(await exchange(slow.url, "POST /trpc/auth.login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\nX-Request-Id: trickle-1\r\n\r\n{"));
    expect(answer.statusLine).toBe("HTTP/1.1 408 Request Timeout");
    expect(answer.headers).toMatchObject({ "x-request-id": "trickle-1", connection: "close" });
    expect(refusals(slowLog.lines).filter((l) => l["reqId"] === "trickle-1")).toEqual([expect.objectContaining({ level: 40, status: 408 })]);
    await accessLine(slowLog.lines, "trickle-1");
    expect(accessLines(slowLog.lines, "trickle-1")).toEqual([expect.objectContaining({ method: "POST", route: "/trpc/:path", status: 408, outcome: "BAD_REQUEST" })]);
    expect(await counted(slow.url, labels)).toEqual({ requests: countedBefore.requests + 1, timed: countedBefore.timed + 1 });
  });
});
