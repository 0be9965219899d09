/**
 * whenResponseClosed on a real node:http server: a response that ends, a client that left
 * before anyone listened, and responses pipelined behind a stream on a connection that is
 * reset (which Node 20 never closes on their own).
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { whenResponseClosed } from "./response-closed.ts";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A server that hands each request to `handle`; returns its port. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  server = createServer(handle);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

describe("whenResponseClosed", () => {
  it("runs once when the response ends, and not at all once cancelled", async () => {
    const runs: string[] = [];
    const port = await serve((req, res) => {
      whenResponseClosed(res, () => runs.push(`closed ${req.url}`));
      const cancel = whenResponseClosed(res, () => runs.push(`cancelled ${req.url}`));
      cancel();
      res.end("ok");
    });
    for (const path of ["/a", "/b"]) expect(await (await fetch(`http://127.0.0.1:${port}${path}`)).text()).toBe("ok");
    await expect.poll(() => runs).toEqual(["closed /a", "closed /b"]);
  });

  it("adds one listener to a response however many wait on it (a tRPC batch waits once per call)", async () => {
    let ran = 0;
    const counts: number[] = [];
    const port = await serve((_req, res) => {
      const before = res.listenerCount("close");
      for (let i = 0; i < 50; i++) whenResponseClosed(res, () => ran++);
      counts.push(res.listenerCount("close") - before, res.socket!.listenerCount("close"));
      res.end("ok");
    });
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("ok");
    await expect.poll(() => ran).toBe(50);
    // Fifty waits, one listener on the response; the connection has Node's own and one of ours.
    expect(counts[0]).toBe(1);
    expect(counts[1]).toBeLessThan(10);
  });

  it("runs at once for a client that left before anyone listened", async () => {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const ran = new Promise<boolean>((resolve) => {
      void serve((_req, res) => {
        arrived();
        // Listened to only after the client is gone, as by a handler that awaited something first.
        res.once("close", () => whenResponseClosed(res, () => resolve(true)));
      }).then((port) => {
        const socket = connect(port, "127.0.0.1");
        socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        void reached.then(() => socket.destroy());
      });
    });
    expect(await ran).toBe(true);
  });

  it("ends responses pipelined behind a stream when the connection is reset", async () => {
    const closed: string[] = [];
    const arrived: string[] = [];
    const port = await serve((req, res) => {
      arrived.push(req.url!);
      whenResponseClosed(res, () => closed.push(req.url!));
      if (req.url === "/stream") res.write("first event");
      else res.end("queued behind the stream");
    });
    const socket = connect(port, "127.0.0.1");
    socket.write(["/stream", "/one", "/two"].map((path) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`).join(""));
    await expect.poll(() => arrived).toEqual(["/stream", "/one", "/two"]);
    socket.resetAndDestroy();
    await expect.poll(() => [...closed].sort()).toEqual(["/one", "/stream", "/two"]);
  });
});
