/**
 * A real local HTTP server speaking Anthropic's Messages API (JSON and SSE events), for
 * the `anthropic` provider kind. It checks the key and answers 401 the way Anthropic
 * does; when the request offers tools and the prompt mentions "weather" it answers with a
 * tool_use block, otherwise with text.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeAnthropicRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface FakeAnthropicServer {
  /** Base URL without /v1 (the SDK adds it). */
  url: string;
  requests: FakeAnthropicRequest[];
  close(): Promise<void>;
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export async function startFakeAnthropic(opts: { apiKey: string; text?: string }): Promise<FakeAnthropicServer> {
  const requests: FakeAnthropicRequest[] = [];
  const text = opts.text ?? "Hello from the fake Claude";
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      // The SDK sends the key as a bearer token; older clients send x-api-key. Both count.
      const bearer = req.headers.authorization?.replace(/^Bearer /, "");
      if (req.headers["x-api-key"] !== opts.apiKey && bearer !== opts.apiKey) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }));
        return;
      }
      if (req.method === "GET" && req.url?.startsWith("/v1/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ data: [{ id: "claude-test", type: "model" }], has_more: false }));
        return;
      }
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      requests.push({ path: req.url ?? "", headers: req.headers, body });
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
      res.write(sse("message_start", { type: "message_start", message: { id: "msg_01", type: "message", role: "assistant", model, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 3 } } }));
      if (wantsTool) {
        res.write(sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_01", name: "get_weather", input: {} } }));
        res.write(sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"city":' } }));
        res.write(sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '"Paris"}' } }));
      } else {
        res.write(sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }));
        for (const word of text.split(/(?<= )/)) {
          res.write(sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: word } }));
        }
      }
      res.write(sse("content_block_stop", { type: "content_block_stop", index: 0 }));
      res.write(sse("message_delta", { type: "message_delta", delta: { stop_reason: wantsTool ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 5 } }));
      res.write(sse("message_stop", { type: "message_stop" }));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
