/**
 * tRPC's WebSocket protocol spoken by hand with `ws`, for tests that must see the wire: each
 * reply by id, a stop sent at a chosen moment, the socket's close code and reason.
 */
import WebSocket from "ws";

/** A reply of tRPC's WebSocket protocol. */
export interface Reply {
  id: number | string | null;
  result?: { type: string; data?: unknown };
  error?: { message: string; data: Record<string, unknown> };
}

export interface SocketClose {
  code: number;
  reason: string;
}

export interface RawTrpcSocket {
  ws: WebSocket;
  /** Every reply received so far. */
  replies: Reply[];
  /** Resolves when the server has closed the socket (or it was closed here). */
  closed: Promise<SocketClose>;
  /** Sends one message (or a batch, as an array). */
  send(message: unknown): void;
  /** Sends a query or mutation and resolves with its reply (data or error). */
  call(id: number, method: "query" | "mutation", path: string, input?: unknown): Promise<Reply>;
  /** The first data or error reply for `id`. */
  replyTo(id: number): Promise<Reply>;
  /** The first reply that `match` accepts (rejects if the socket closes before one). */
  reply(match: (reply: Reply) => boolean): Promise<Reply>;
  /** Resolves once the server has handled every message sent before (it answers PING in order). */
  barrier(): Promise<void>;
  close(): Promise<SocketClose>;
}

export interface OpenOptions {
  /** Sent as connectionParams, tRPC's first message (the typed client's way). */
  token?: string;
  headers?: Record<string, string>;
  protocols?: string[];
}

/** Opens /trpc on `baseUrl`, signed in the way `opts` says (none: anonymous). */
export async function openTrpcSocket(baseUrl: string, opts: OpenOptions = {}): Promise<RawTrpcSocket> {
  const params = opts.token === undefined ? "" : "?connectionParams=1";
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/trpc${params}`, opts.protocols ?? [], { headers: opts.headers ?? {} });
  const replies: Reply[] = [];
  const waiting = new Set<() => void>();
  const pongs: Array<() => void> = [];
  ws.on("message", (data) => {
    const text = data.toString();
    if (text === "PONG") return pongs.shift()?.();
    if (text === "PING") return;
    replies.push(JSON.parse(text) as Reply);
    for (const look of waiting) look();
  });
  const closed = new Promise<SocketClose>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  if (opts.token !== undefined) ws.send(JSON.stringify({ method: "connectionParams", data: { token: opts.token } }));

  const reply = (match: (reply: Reply) => boolean) =>
    new Promise<Reply>((resolve, reject) => {
      const look = () => {
        const found = replies.find(match);
        if (!found) return;
        waiting.delete(look);
        resolve(found);
      };
      waiting.add(look);
      look();
      void closed.then(() => {
        look();
        if (waiting.delete(look)) reject(new Error(`the socket closed before the reply; got ${JSON.stringify(replies)}`));
      });
    });
  const replyTo = (id: number) => reply((r) => r.id === id && (r.error !== undefined || r.result?.type === "data"));
  const send = (message: unknown) => ws.send(JSON.stringify(message));
  return {
    ws,
    replies,
    closed,
    send,
    replyTo,
    reply,
    barrier: () =>
      new Promise<void>((resolve) => {
        pongs.push(resolve);
        ws.send("PING");
      }),
    call(id, method, path, input) {
      send({ id, method, params: { path, input } });
      return replyTo(id);
    },
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close();
      return closed;
    },
  };
}
