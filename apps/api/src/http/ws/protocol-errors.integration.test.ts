/**
 * WebSocket peers that break the protocol itself, against a real server: a text frame that is
 * not UTF-8 (sent by `ws` as raw bytes, and built by hand) and a frame with a reserved
 * opcode. Each is closed with the code RFC 6455 calls for and leaves one warn line without a
 * stack, never an error-level line, on /ws/chat and on tRPC's /trpc alike.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { eventually } from "../../../test/chat.ts";
import { captureLog, type LogLine } from "../../../test/log-capture.ts";

let t: TestApp;
const log = captureLog();
beforeAll(async () => {
  // Debug, so that no line of any level about these peers goes unseen.
  t = await startTestApp({ mode: "embedded", env: { LOG_LEVEL: "debug" }, logDestination: log.sink });
});
afterAll(async () => t?.close());

/** Not UTF-8: a lone continuation byte and two bytes no UTF-8 text holds. */
const NOT_UTF8 = Buffer.from([0x7b, 0x80, 0xff, 0xfe, 0x7d]);
const WARN = "closed a WebSocket peer that broke the protocol";

/** The lines logged since `from`, once the warn line for this peer is among them. */
async function linesAfter(from: number): Promise<LogLine[]> {
  await eventually(async () => log.lines.slice(from).find((l) => l["msg"] === WARN), "the warn line");
  return log.lines.slice(from);
}

function expectQuiet(lines: LogLine[], ws: string, code: string): void {
  expect(lines.filter((l) => (l["level"] as number) >= 50)).toEqual([]);
  const warned = lines.filter((l) => l["msg"] === WARN);
  expect(warned).toEqual([expect.objectContaining({ level: 40, ws, ip: "127.0.0.1", code })]);
  // No stack anywhere, at any level: nothing a peer can send costs more than this line.
  expect(JSON.stringify(lines)).not.toContain("stack");
}

/** The frame bytes a client sends: FIN, the opcode, a masked payload under 126 bytes. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** Upgrades a raw TCP socket on `path`, sends `frame`, and resolves with the close code the server sent (null if none). */
function rawSocketClose(path: string, frame: Buffer): Promise<number | null> {
  const { hostname, port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 5 s; got ${JSON.stringify(received.toString("latin1"))}`));
    }, 5_000);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded) {
        const end = received.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = received.subarray(0, end).toString("latin1");
        if (!head.startsWith("HTTP/1.1 101 ")) {
          clearTimeout(timer);
          socket.destroy();
          return reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
        }
        upgraded = true;
        received = received.subarray(end + 4);
        socket.write(frame);
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      // A server's close frame: 0x88, an unmasked length, then the code.
      resolve(received[0] === 0x88 && received.length >= 4 ? received.readUInt16BE(2) : null);
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

describe.each(["/ws/chat", "/trpc"])("a WebSocket peer on %s breaking the protocol", (path) => {
  it("a text frame that is not UTF-8 (sent by ws as raw bytes): closed with 1007, one warn line, nothing at error level", async () => {
    const from = log.lines.length;
    const ws = new WebSocket(`${t.url.replace(/^http/, "ws")}${path}`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(NOT_UTF8, { binary: false });
    expect(await closed).toBe(1007);
    expectQuiet(await linesAfter(from), path, "WS_ERR_INVALID_UTF8");
  });

  it("the same frame built by hand on a raw socket: 1007", async () => {
    const from = log.lines.length;
    expect(await rawSocketClose(path, clientFrame(0x1, NOT_UTF8))).toBe(1007);
    expectQuiet(await linesAfter(from), path, "WS_ERR_INVALID_UTF8");
  });

  it("a frame with a reserved opcode: 1002", async () => {
    const from = log.lines.length;
    expect(await rawSocketClose(path, clientFrame(0x3, Buffer.from("x")))).toBe(1002);
    expectQuiet(await linesAfter(from), path, "WS_ERR_INVALID_OPCODE");
  });
});
