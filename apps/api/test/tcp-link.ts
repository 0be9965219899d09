/**
 * A TCP link between the app and a real server (PostgreSQL here) that a test can break the
 * ways networks break: the server going away (connections cut, new ones refused) or a path
 * that goes silent (connections cut, new ones accepted and never answered). Bytes pass
 * untouched while the link is up.
 */
import net from "node:net";

export type LinkState = "up" | "down" | "silent";

export interface TcpLink {
  /** Where the app connects instead of the server. */
  port: number;
  /** From now on treats new connections as `state` says; leaving "up" cuts the open ones. */
  set(state: LinkState): Promise<void>;
  /** Cuts every open connection (new ones are treated as before). */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpLink(target: { host: string; port: number }): Promise<TcpLink> {
  const open = new Set<net.Socket>();
  let state: LinkState = "up";
  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
  };
  const server = net.createServer((client) => {
    track(client);
    if (state === "silent") return;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  const cut = () => {
    for (const socket of open) socket.destroy();
  };
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut,
    async set(next) {
      const before = state;
      state = next;
      if (next !== "up" || before !== "up") cut();
      // "down": nothing listens, so a connection is refused at once (ECONNREFUSED).
      if (next === "down") await stopListening();
      else if (!server.listening) await listen(port);
    },
    async close() {
      cut();
      await stopListening();
    },
  };
}
