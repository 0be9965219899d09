/**
 * A real local HTTP server speaking OpenAI's chat-completions protocol (JSON and SSE), with
 * programmable faults. Tests and the benchmark point providers at it, so every byte goes
 * through the providers' real transport and parsing: nothing is mocked.
 *
 *   const fake = await startFakeOpenAI({ name: "beta" });
 *   fake.enqueue({ kind: "status", status: 429, retryAfter: "2" }); // next request only
 *   fake.setDefault({ kind: "ok", content: "hi there" });          // every later one
 *   fake.setDefault(({ body }) => ({ kind: "ok", content: answerTo(body) })); // per request
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { writeRaw, type RawReply } from "./raw-reply.ts";

export type FakeBehavior =
  /**
   * A normal answer; streams one chunk per word. The optional fields shape it like the
   * answers agent frameworks depend on: tool calls (streamed as indexed fragments), a
   * refusal, a finish reason other than "stop", logprobs, usage details, n choices.
   */
  | {
      kind: "ok";
      content?: string;
      chunkDelayMs?: number;
      usage?: boolean;
      finishReason?: string;
      toolCalls?: FakeToolCall[];
      refusal?: string;
      logprobs?: boolean;
      systemFingerprint?: string;
      usageDetails?: Record<string, unknown>;
      /** Extra fields on the message / every delta (e.g. reasoning_content). */
      extra?: Record<string, unknown>;
    }
  /** Waits before answering normally (a slow first token). */
  | { kind: "slow"; delayMs: number; content?: string }
  /** An HTTP error, e.g. 429 with Retry-After or 500; after `delayMs` (a failure slow to come). */
  | { kind: "status"; status: number; retryAfter?: string; body?: string; delayMs?: number }
  /** Non-stream: a 200 whose JSON is truncated. Stream: a data line that is not JSON. */
  | { kind: "malformed" }
  /** Sends `afterChunks` content chunks (stream) or half the body (non-stream), then drops the connection. */
  | { kind: "cut"; afterChunks: number; content?: string }
  /** Sends `afterChunks` content chunks, then nothing, until the client gives up. */
  | { kind: "stall"; afterChunks: number; content?: string }
  /** Streams content, then ends the response cleanly without finish_reason or [DONE]. */
  | { kind: "no-finish"; content?: string }
  /** Holds the answer until `until` settles (the test decides when), then answers normally. */
  | { kind: "wait"; until: Promise<unknown>; content?: string }
  /** Exactly these bytes (see raw-reply.ts). */
  | RawReply;

export interface FakeToolCall {
  id: string;
  name: string;
  /** JSON text; streamed in pieces of a few characters. */
  arguments: string;
}

/** Chooses the behaviour from the request itself (e.g. answer by prompt, fail only some calls). */
export type FakeResponder = (request: { index: number; body: FakeRequest["body"] }) => FakeBehavior;

export interface FakeRequest {
  index: number;
  path: string;
  headers: IncomingMessage["headers"];
  body: { model?: string; messages?: Array<{ role: string; content: string }>; stream?: boolean; [key: string]: unknown };
  /** The body exactly as received, for byte-level comparisons. */
  raw: string;
  behavior: FakeBehavior;
  /** The client went away before the response finished. */
  aborted: boolean;
  completed: boolean;
}

export interface FakeOpenAIServer {
  /** Base URL including /v1, as providers and OpenAI's SDK want it. */
  url: string;
  name: string;
  requests: FakeRequest[];
  enqueue(...behaviors: FakeBehavior[]): void;
  setDefault(behavior: FakeBehavior | FakeResponder): void;
  /** Resolves once request `index` was aborted by its client. */
  waitForAbort(index: number): Promise<FakeRequest>;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAI(opts: { name?: string; defaultBehavior?: FakeBehavior | FakeResponder } = {}): Promise<FakeOpenAIServer> {
  const name = opts.name ?? "fake";
  const queue: FakeBehavior[] = [];
  let fallback: FakeBehavior | FakeResponder = opts.defaultBehavior ?? { kind: "ok" };
  const requests: FakeRequest[] = [];
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  const notify = () => waiters.forEach((w) => w());
  const until = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      if (done()) return resolve();
      const check = () => {
        if (!done()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });

  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    if (req.method === "GET" && req.url?.endsWith("/models")) {
      return json(res, 200, { object: "list", data: [{ id: `${name}-model`, object: "model", owned_by: name }] });
    }
    let body: FakeRequest["body"];
    try {
      body = JSON.parse(raw);
    } catch {
      return json(res, 400, { error: { message: "invalid JSON body", type: "invalid_request_error" } });
    }
    const behavior = queue.shift() ?? (typeof fallback === "function" ? fallback({ index: requests.length, body }) : fallback);
    const record: FakeRequest = { index: requests.length, path: req.url ?? "", headers: req.headers, body, raw, behavior, aborted: false, completed: false };
    requests.push(record);
    res.once("close", () => {
      if (!res.writableFinished) record.aborted = true;
      notify();
    });
    notify();
    await respond(record, res, name).catch(() => res.destroy());
    record.completed = res.writableFinished;
    notify();
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    name,
    requests,
    enqueue: (...behaviors) => void queue.push(...behaviors),
    setDefault: (behavior) => void (fallback = behavior),
    async waitForAbort(index) {
      await until(() => requests[index]?.aborted === true);
      return requests[index]!;
    },
    waitForRequests: (count) => until(() => requests.length >= count),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL nothing listens on: connections are refused. */
export async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

async function respond(record: FakeRequest, res: ServerResponse, name: string): Promise<void> {
  const { behavior, body } = record;
  if (record.path.split("?")[0]!.endsWith("/embeddings") && behavior.kind !== "status") {
    if (behavior.kind === "slow") await sleep(behavior.delayMs);
    if (res.destroyed) return;
    return json(res, 200, embeddings(body, name));
  }
  const stream = body.stream === true;
  const model = body.model ?? `${name}-model`;
  const content = ("content" in behavior && behavior.content) || `Hello from ${name}.`;
  switch (behavior.kind) {
    case "status":
      if (behavior.delayMs) await sleep(behavior.delayMs);
      if (res.destroyed) return;
      if (behavior.retryAfter !== undefined) res.setHeader("retry-after", behavior.retryAfter);
      res.writeHead(behavior.status, { "content-type": "application/json" });
      res.end(behavior.body ?? JSON.stringify({ error: { message: `fake ${behavior.status}`, type: "server_error" } }));
      return;
    case "slow":
      await sleep(behavior.delayMs);
      if (res.destroyed) return;
      return stream ? sse(res, model, words(content), { finish: true, usage: true }) : json(res, 200, completion(model, content));
    case "malformed":
      if (!stream) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"id":"chatcmpl-fake","choices":[{"message":{"content":"trunc');
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end("data: {this is not json\n\n");
      return;
    case "cut":
      if (!stream) {
        res.writeHead(200, { "content-type": "application/json", "content-length": "400" });
        res.write('{"id":"chatcmpl-fake","object":"chat.completion","choices":[');
        await sleep(5);
        res.destroy();
        return;
      }
      await sse(res, model, words(content).slice(0, behavior.afterChunks), { finish: false, usage: false, keepOpen: true });
      // Let the sent chunks reach the client first: a real cut loses what follows, not what preceded.
      await new Promise<void>((resolve) => res.write("", () => resolve()));
      await sleep(20);
      res.destroy();
      return;
    case "stall":
      await sse(res, model, words(content).slice(0, behavior.afterChunks), { finish: false, usage: false, keepOpen: true });
      // Silence until the client gives up (the close handler records the abort).
      await new Promise<void>((resolve) => res.once("close", () => resolve()));
      return;
    case "wait":
      await behavior.until;
      if (res.destroyed) return;
      return stream ? sse(res, model, words(content), { finish: true, usage: true }) : json(res, 200, completion(model, content));
    case "raw":
      return writeRaw(res, behavior);
    case "no-finish":
      return sse(res, model, words(content), { finish: false, usage: false, done: false });
    case "ok":
      if (isRich(behavior)) return stream ? richSse(res, model, behavior, body) : json(res, 200, richCompletion(model, behavior, body));
      return stream
        ? sse(res, model, words(content), { finish: true, usage: behavior.usage !== false, delayMs: behavior.chunkDelayMs ?? 0, wantsUsage: body.stream_options })
        : json(res, 200, completion(model, content, behavior.usage !== false));
  }
}

type OkBehavior = Extract<FakeBehavior, { kind: "ok" }>;
const isRich = (b: OkBehavior) =>
  b.finishReason !== undefined || b.toolCalls !== undefined || b.refusal !== undefined || b.logprobs === true || b.systemFingerprint !== undefined || b.usageDetails !== undefined || b.extra !== undefined;

const choicesOf = (body: FakeRequest["body"]) => (typeof body.n === "number" && body.n > 1 ? body.n : 1);
const finishOf = (b: OkBehavior) => b.finishReason ?? (b.toolCalls ? "tool_calls" : "stop");
const contentOf = (b: OkBehavior, index: number) =>
  b.toolCalls || b.refusal !== undefined ? (b.content ?? null) : `${b.content ?? "Hello."}${index > 0 ? ` (choice ${index})` : ""}`;
const logprobsOf = (text: string) => ({ content: words(text).map((token) => ({ token, logprob: -0.25, bytes: [...Buffer.from(token)], top_logprobs: [] })), refusal: null });
const richUsage = (b: OkBehavior, completionTokens: number) => ({ prompt_tokens: 7, completion_tokens: completionTokens, total_tokens: 7 + completionTokens, ...b.usageDetails });

/** A completion with every field agent frameworks read. */
function richCompletion(model: string, b: OkBehavior, body: FakeRequest["body"]) {
  const choices = Array.from({ length: choicesOf(body) }, (_, index) => {
    const content = contentOf(b, index);
    return {
      index,
      message: {
        role: "assistant",
        content,
        refusal: b.refusal ?? null,
        ...(b.toolCalls ? { tool_calls: b.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) } : {}),
        ...b.extra,
      },
      logprobs: b.logprobs && content ? logprobsOf(content) : null,
      finish_reason: finishOf(b),
    };
  });
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices,
    ...(b.usage !== false ? { usage: richUsage(b, 5) } : {}),
    system_fingerprint: b.systemFingerprint ?? null,
  };
}

/** The same answer as OpenAI streams it: role, content words, tool-call fragments by index, finish, usage. */
async function richSse(res: ServerResponse, model: string, b: OkBehavior, body: FakeRequest["body"]): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const write = (choices: object[], extra: object = {}) =>
    res.write(
      `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1_700_000_000, model, system_fingerprint: b.systemFingerprint ?? null, choices, ...extra })}\n\n`,
    );
  for (let index = 0; index < choicesOf(body); index++) {
    write([{ index, delta: { role: "assistant", content: b.toolCalls ? null : "", ...b.extra }, logprobs: null, finish_reason: null }]);
    const content = contentOf(b, index);
    for (const piece of content ? words(content) : []) {
      if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
      write([{ index, delta: { content: piece }, logprobs: b.logprobs ? logprobsOf(piece) : null, finish_reason: null }]);
    }
    if (b.refusal !== undefined) for (const piece of words(b.refusal)) write([{ index, delta: { refusal: piece }, logprobs: null, finish_reason: null }]);
    (b.toolCalls ?? []).forEach((call, i) => {
      write([{ index, delta: { tool_calls: [{ index: i, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] }, logprobs: null, finish_reason: null }]);
      for (let at = 0; at < call.arguments.length; at += 4) {
        write([{ index, delta: { tool_calls: [{ index: i, function: { arguments: call.arguments.slice(at, at + 4) } }] }, logprobs: null, finish_reason: null }]);
      }
    });
    write([{ index, delta: {}, logprobs: null, finish_reason: finishOf(b) }]);
  }
  const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  if (b.usage !== false && wantsUsage) write([], { usage: richUsage(b, 5) });
  res.write("data: [DONE]\n\n");
  res.end();
}

/** Deterministic vectors: input i gets [i+1, len/10, 0.5]. */
function embeddings(body: FakeRequest["body"], name: string) {
  const input = body.input;
  const inputs = Array.isArray(input) && (input.length === 0 || typeof input[0] !== "number") ? (input as unknown[]) : [input];
  return {
    object: "list",
    data: inputs.map((x, index) => {
      const vector = [index + 1, String(x).length / 10, 0.5];
      // As OpenAI does: base64 of little-endian float32s when asked (the SDK's default).
      const embedding = body.encoding_format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector;
      return { object: "embedding", index, embedding };
    }),
    model: body.model ?? `${name}-embedding`,
    usage: { prompt_tokens: inputs.length * 2, total_tokens: inputs.length * 2 },
  };
}

function completion(model: string, content: string, usage = true) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    ...(usage ? { usage: { prompt_tokens: 7, completion_tokens: words(content).length, total_tokens: 7 + words(content).length } } : {}),
  };
}

async function sse(
  res: ServerResponse,
  model: string,
  pieces: string[],
  opts: { finish: boolean; usage: boolean; done?: boolean; keepOpen?: boolean; delayMs?: number; wantsUsage?: unknown },
): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const chunk = (delta: object, finish: string | null, extra: object = {}) =>
    `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  res.write(chunk({ role: "assistant", content: "" }, null));
  for (const piece of pieces) {
    if (opts.delayMs) await sleep(opts.delayMs);
    if (res.destroyed) return;
    res.write(chunk({ content: piece }, null));
  }
  if (opts.keepOpen) return;
  if (opts.finish) res.write(chunk({}, "stop"));
  const includeUsage = (opts.wantsUsage as { include_usage?: boolean } | undefined)?.include_usage ?? true;
  if (opts.usage && includeUsage) {
    const usage = { prompt_tokens: 7, completion_tokens: pieces.length, total_tokens: 7 + pieces.length };
    res.write(`data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [], usage })}\n\n`);
  }
  if (opts.done !== false) res.write("data: [DONE]\n\n");
  res.end();
}

function words(text: string): string[] {
  return text.split(/(?<=\s)(?=\S)/);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (data += c));
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}
