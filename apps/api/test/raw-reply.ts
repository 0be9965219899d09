/**
 * Exactly these bytes, for the fake upstream servers (fake-openai-server.ts,
 * fake-anthropic-server.ts): an HTML page, hand-written SSE with comments or error events,
 * a truncated body. Each piece is flushed before the next; then the response ends, the
 * connection drops (`cut`) or nothing more comes until the client gives up (`hold`).
 */
import type { ServerResponse } from "node:http";

export interface RawReply {
  kind: "raw";
  status?: number;
  contentType: string;
  /** More response headers (e.g. a content-length the body does not keep to). */
  headers?: Record<string, string>;
  /** Bytes may be given as a Buffer, e.g. to split one UTF-8 character across two writes. */
  pieces: Array<string | Uint8Array>;
  cut?: boolean;
  hold?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function writeRaw(res: ServerResponse, reply: RawReply): Promise<void> {
  res.writeHead(reply.status ?? 200, { "content-type": reply.contentType, ...reply.headers });
  for (const piece of reply.pieces) {
    await new Promise<void>((resolve) => res.write(piece, () => resolve()));
    await sleep(5);
  }
  if (reply.cut) res.destroy();
  else if (reply.hold) await new Promise<void>((resolve) => res.once("close", () => resolve()));
  else res.end();
}
