/**
 * A real local HTTP server speaking Anthropic's Messages API (JSON and SSE events), for
 * the `anthropic` provider kind. It checks the key and answers 401 the way Anthropic
 * does; when the request offers tools and the prompt mentions "weather" it answers with a
 * tool_use block, otherwise with text. Like the API under `anthropic-version: 2026-10-21`,
 * it refuses the sampling parameters (temperature, top_p, top_k) with a 400 even at their
 * default values. Faults are queued per request:
 *
 *   claude.enqueue({ kind: "status", status: 529 });                    // next request only
 *   claude.enqueue({ kind: "raw", contentType: "text/event-stream", pieces: [...], cut: true });
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { writeRaw, type RawReply } from "./raw-reply.ts";

export type FakeAnthropicFault =
  /** An HTTP error with Anthropic's error body (or `body` as given), e.g. 429 with Retry-After, 529. */
  | { kind: "status"; status: number; retryAfter?: string; body?: string }
  /** No answer at all until the client gives up. */
  | { kind: "hang" }
  /** The usual answer, after `delayMs` (a model thinking long before its first token). */
  | { kind: "slow"; delayMs: number }
  /** Exactly these bytes (see raw-reply.ts). */
  | RawReply;

export interface FakeAnthropicRequest {
  index: number;
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  /** The client went away before the response finished. */
  aborted: boolean;
}

export interface FakeAnthropicServer {
  /** Base URL without /v1 (as Anthropic documents it; the provider adds /v1/messages). */
  url: string;
  requests: FakeAnthropicRequest[];
  enqueue(...faults: FakeAnthropicFault[]): void;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>;
  /** Resolves once request `index` was aborted by its client. */
  waitForAbort(index: number): Promise<void>;
  close(): Promise<void>;
}

/** Anthropic's error type for a status, as its API names them. */
const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export const anthropicError = (type: string, message: string) => JSON.stringify({ type: "error", error: { type, message } });

/** One SSE event as Anthropic sends it: the event name, and the same name as the data's type. */
export function anthropicEvent(event: string, data: Record<string, unknown> = {}): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

export async function startFakeAnthropic(opts: { apiKey: string; text?: string }): Promise<FakeAnthropicServer> {
  const requests: FakeAnthropicRequest[] = [];
  const faults: FakeAnthropicFault[] = [];
  const sockets = new Set<Socket>();
  const changed = new EventTarget();
  const until = async (done: () => boolean) => {
    while (!done()) await once(changed, "change");
  };
  const notify = () => changed.dispatchEvent(new Event("change"));
  const text = opts.text ?? "Hello from the fake Claude";

  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      // The provider sends the key as a bearer token, as Anthropic's SDK does; x-api-key counts too.
      const bearer = req.headers.authorization?.replace(/^Bearer /, "");
      const authorised = req.headers["x-api-key"] === opts.apiKey || bearer === opts.apiKey;
      if (req.method === "GET" && req.url?.startsWith("/v1/models")) {
        if (!authorised) return unauthorised(res);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ data: [{ id: "claude-test", type: "model" }], has_more: false }));
        return;
      }
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const record: FakeAnthropicRequest = { index: requests.length, path: req.url ?? "", headers: req.headers, body, aborted: false };
      requests.push(record);
      res.once("close", () => {
        if (!res.writableFinished) record.aborted = true;
        notify();
      });
      notify();
      const fault = faults.shift();
      if (fault?.kind === "slow") return void setTimeout(() => !res.destroyed && answer(res, body, text), fault.delayMs);
      if (fault) return void fail(res, fault).catch(() => res.destroy());
      if (!authorised) return unauthorised(res);
      const sampling = SAMPLING_PARAMETERS.find((name) => name in body && req.headers["anthropic-version"] === "2026-10-21");
      if (sampling) {
        res.writeHead(400, { "content-type": "application/json" });
        return void res.end(anthropicError("invalid_request_error", `${sampling}: Extra inputs are not permitted`));
      }
      answer(res, body, text);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...more) => void faults.push(...more),
    waitForRequests: (count) => until(() => requests.length >= count),
    waitForAbort: (index) => until(() => requests[index]?.aborted === true),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Removed in API version 2026-10-21. */
const SAMPLING_PARAMETERS = ["temperature", "top_p", "top_k"];

function unauthorised(res: ServerResponse): void {
  res.writeHead(401, { "content-type": "application/json" });
  res.end(anthropicError("authentication_error", "invalid x-api-key"));
}

async function fail(res: ServerResponse, fault: FakeAnthropicFault): Promise<void> {
  switch (fault.kind) {
    case "status":
      res.writeHead(fault.status, { "content-type": "application/json", ...(fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {}) });
      res.end(fault.body ?? anthropicError(ERROR_TYPES[fault.status] ?? "api_error", fault.status === 529 ? "Overloaded" : `fake ${fault.status}`));
      return;
    case "hang":
      await once(res, "close");
      return;
    case "raw":
      return writeRaw(res, fault);
  }
}

function answer(res: ServerResponse, body: Record<string, unknown>, text: string): void {
  const messages = (body.messages as Array<{ content: unknown }>) ?? [];
  const prompt = JSON.stringify(messages.at(-1)?.content ?? "");
  const wantsTool = Array.isArray(body.tools) && body.tools.length > 0 && prompt.includes("weather");
  const model = String(body.model ?? "claude-test");
  const usage = { input_tokens: 12, output_tokens: 5, cache_read_input_tokens: 3 };
  const tool = { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } };
  if (body.stream !== true) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: "msg_01",
        type: "message",
        role: "assistant",
        model,
        content: wantsTool ? [tool] : [{ type: "text", text }],
        stop_reason: wantsTool ? "tool_use" : "end_turn",
        stop_sequence: null,
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(anthropicEvent("message_start", { message: { id: "msg_01", type: "message", role: "assistant", model, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 3 } } }));
  if (wantsTool) {
    res.write(anthropicEvent("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_01", name: "get_weather", input: {} } }));
    res.write(anthropicEvent("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '{"city":' } }));
    res.write(anthropicEvent("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '"Paris"}' } }));
  } else {
    res.write(anthropicEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }));
    for (const word of text.split(/(?<= )/)) res.write(anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: word } }));
  }
  res.write(anthropicEvent("content_block_stop", { index: 0 }));
  res.write(anthropicEvent("message_delta", { delta: { stop_reason: wantsTool ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 5 } }));
  res.write(anthropicEvent("message_stop"));
  res.end();
}
