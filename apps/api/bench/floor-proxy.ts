/**
 * The least any Node gateway can add: a forwarder with nothing but node:http on both sides
 * (keep-alive agent to the upstream, the body passed on as received, the answer piped back
 * as it arrives, streams included). No auth, limits, routing, metrics or logs. bench:peers
 * measures it next to Switchboard so a reader can tell the platform's two loopback HTTP hops
 * (this machine's floor) from what Switchboard itself adds on top.
 *
 * `node --import tsx bench/floor-proxy.ts <upstream base URL>`: prints its URL (the same
 * base path as the upstream's), then serves until stdin closes.
 */
import http from "node:http";

const upstream = new URL(process.argv[2]!);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        agent,
        headers: { "content-type": req.headers["content-type"] ?? "application/json", "content-length": body.length },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { "content-type": answer.headers["content-type"] ?? "application/json" });
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.writeHead(502).end());
    forward.end(body);
  });
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`http://127.0.0.1:${port}${upstream.pathname}\n`);
});
process.stdin.resume();
process.stdin.on("end", () => server.close(() => process.exit(0)));
