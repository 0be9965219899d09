/**
 * The least any Node gateway can add: a forwarder with nothing but node:http on both sides
 * (keep-alive agent to the upstream, the body passed on as received, the answer piped back
 * as it arrives, streams included). No auth, limits, routing, metrics or logs. bench:peers
 * measures it next to Switchboard so a reader can tell the platform's two loopback HTTP hops
 * (this machine's floor) from what Switchboard itself adds on top.
 *
 * With `--fastify` the same forwarder is one Fastify route instead (Fastify's request
 * lifecycle and JSON body parser, `reply.send` of the answer's stream; still no hooks): the
 * difference between the two is what the web framework alone costs on this machine, the
 * most a request path written beside Fastify could give back.
 *
 * `node --import tsx bench/floor-proxy.ts <upstream base URL> [--fastify]`: prints its URL
 * (the same base path as the upstream's), then serves until stdin closes.
 */
import http, { type IncomingMessage, type Server } from "node:http";
import Fastify from "fastify";

const upstream = new URL(process.argv[2]!);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Sends `body` upstream; `answer` gets the upstream's response, or null when it failed. */
function forward(method: string, path: string, contentType: string, body: Buffer, answer: (res: IncomingMessage | null) => void): void {
  const request = http.request(
    { host: upstream.hostname, port: upstream.port, method, path, agent, headers: { "content-type": contentType, "content-length": body.length } },
    answer,
  );
  request.on("error", () => answer(null));
  request.end(body);
}

function nodeHttpServer(): Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      forward(req.method!, req.url!, req.headers["content-type"] ?? "application/json", Buffer.concat(chunks), (answer) => {
        if (!answer) return void res.writeHead(502).end();
        res.writeHead(answer.statusCode ?? 502, { "content-type": answer.headers["content-type"] ?? "application/json" });
        answer.pipe(res);
      });
    });
  });
}

async function fastifyServer(): Promise<Server> {
  const app = Fastify({ logger: false });
  app.post("/*", (request, reply) => {
    forward("POST", request.url, "application/json", Buffer.from(JSON.stringify(request.body)), (answer) => {
      if (!answer) return void reply.code(502).send();
      void reply.code(answer.statusCode ?? 502).header("content-type", answer.headers["content-type"] ?? "application/json").send(answer);
    });
  });
  await app.ready();
  return app.server;
}

const server = process.argv.includes("--fastify") ? await fastifyServer() : nodeHttpServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`http://127.0.0.1:${port}${upstream.pathname}\n`);
});
process.stdin.resume();
process.stdin.on("end", () => server.close(() => process.exit(0)));
