/**
 * A TCP link between the app and a real server (PostgreSQL here) that a test can break the
 * ways networks break: the server going away (connections cut, new ones reset at once) or a
 * path that goes silent (connections cut, new ones accepted and never answered). Bytes pass
 * untouched while the link is up, and the server's answers can be held back for a while (a
 * slow network): the server has run the query, the app has not heard yet. It keeps listening
 * on its port throughout.
 */
import net from "node:net";

export type LinkState = "up" | "down" | "silent";

export interface TcpLink {
  /** Where the app connects instead of the server. */
  port: number;
  /** From now on treats new connections as `state` says; leaving "up" cuts the open ones. */
  set(state: LinkState): void;
  /** Cuts every open connection (new ones are treated as before). */
  cut(): void;
  /**
   * Holds back what the server sends (true), then passes it on in order (false). With "open",
   * only connections open now are held and later ones answer at once: a query already sent
   * waits while one sent after it, on a connection the pool opens for it, is answered first.
   */
  hold(on: boolean, which?: "all" | "open"): void;
  /** Bytes of the server's answers held back now. */
  readonly heldBytes: number;
  /** Connections accepted while silent (and left unanswered) since the start. */
  readonly heldSilent: number;
  close(): Promise<void>;
}

export async function startTcpLink(target: { host: string; port: number }): Promise<TcpLink> {
  const open = new Set<net.Socket>();
  let state: LinkState = "up";
  /** The server's answers held back, in the order they came, with the app's end each is for. */
  let holding: Array<{ to: net.Socket; chunk: Buffer }> | null = null;
  /** The app's ends whose answers are held; null: every connection's. */
  let heldOnly: Set<net.Socket> | null = null;
  let heldSilent = 0;
  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
  };
  const cut = () => {
    for (const socket of open) socket.destroy();
  };
  const server = net.createServer((client) => {
    client.on("error", () => {});
    // A connection reset as it is made: what a client sees of a server that is not there.
    if (state === "down") return void client.resetAndDestroy();
    track(client);
    if (state === "silent") return void heldSilent++;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (holding && (!heldOnly || heldOnly.has(client))) holding.push({ to: client, chunk });
      else client.write(chunk);
    });
    upstream.on("end", () => client.end());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut,
    set(next) {
      const before = state;
      state = next;
      if (next !== "up" || before !== "up") cut();
    },
    get heldSilent() {
      return heldSilent;
    },
    hold(on, which = "all") {
      if (on) {
        holding ??= [];
        heldOnly = which === "open" ? new Set(open) : null;
        return;
      }
      const held = holding ?? [];
      holding = null;
      heldOnly = null;
      for (const { to, chunk } of held) if (!to.destroyed) to.write(chunk);
    },
    get heldBytes() {
      return (holding ?? []).reduce((n, { chunk }) => n + chunk.length, 0);
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
