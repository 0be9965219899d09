/** Helpers for chat tests: read a chat.stream subscription (or a /ws/chat chat) to its end, or drop it midway. */
import WebSocket from "ws";
import type { TChatStreamEvent, TChatStreamInput } from "@switchboard/schema";
import type { SwitchboardClient } from "@switchboard/client";
import { collectEvents } from "./subscription.ts";

/** Collects chat.stream events until chat_complete or error (or a transport error). */
export function collectStream(client: SwitchboardClient, input: TChatStreamInput): Promise<TChatStreamEvent[]> {
  return collectEvents<TChatStreamEvent>(
    (handlers) => client.chat.stream.subscribe(input, handlers),
    (event) => event.type === "chat_complete" || event.type === "error",
  );
}

/** One /ws/chat chat on a new socket signed in with `token`: every message until the chat's end. */
export async function socketChat(baseUrl: string, token: string, chat: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Array<Record<string, any>>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws/chat`, ["switchboard", `bearer.${token}`], { headers });
  const messages: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    return await new Promise((resolve, reject) => {
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString());
        if (m.type === "auth_ok") return ws.send(JSON.stringify({ type: "chat", ...chat }));
        messages.push(m);
        if (m.type === "chat_complete" || m.type === "error") resolve(messages);
      });
      ws.once("error", reject);
      ws.once("close", () => reject(new Error(`socket closed; got ${JSON.stringify(messages)}`)));
    });
  } finally {
    ws.close();
  }
}

export const textOf = (events: TChatStreamEvent[]) => events.map((e) => (e.type === "chat_delta" ? e.delta : "")).join("");

/**
 * Opens chat.stream over raw SSE (as a browser would), waits for the first chat_delta, then
 * drops the connection. Returns the raw text received before dropping.
 */
export async function streamThenDisconnect(baseUrl: string, token: string, input: TChatStreamInput): Promise<string> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/trpc/chat.stream?input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    signal: controller.signal,
  });
  if (!res.ok || !res.body) throw new Error(`chat.stream answered ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("chat_delta")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before any delta: ${text}`);
    text += value;
  }
  controller.abort();
  await reader.cancel().catch(() => {});
  return text;
}

/** Polls until `check` returns a value (the condition is awaited, never a fixed sleep asserted). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
