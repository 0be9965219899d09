/**
 * The chat service's answers as OpenAI Responses API objects: the `response` body, its
 * output items (a reasoning item for a provider's thinking, an assistant message with
 * output_text / refusal parts, one function_call item per tool call) and, while streaming,
 * the events that build them. One builder serves
 * both: a plain answer is fed to it whole, a streamed one piece by piece, so both read alike.
 */
import { randomUUID } from "node:crypto";
import type { TOpenAIResponsesRequest } from "@switchboard/schema";
import type { AnswerChoice, ChoiceChunk } from "../../providers/types.ts";
import type { ChainResult } from "../../services/gateway/chain-types.ts";
import { encryptedContentOf } from "./reasoning-content.ts";

const newId = (prefix: string) => `${prefix}_${randomUUID().replaceAll("-", "")}`;
export const responseId = () => newId("resp");

type TextPart = { type: "output_text"; text: string; annotations: unknown[]; logprobs: unknown[] } | { type: "refusal"; refusal: string };
interface MessageItem {
  type: "message";
  id: string;
  status: "in_progress" | "completed";
  role: "assistant";
  content: TextPart[];
}
interface FunctionCallItem {
  type: "function_call";
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: "in_progress" | "completed";
}
/**
 * A provider's thinking (chat's `reasoning_content`) as a summary, and its signed thinking
 * blocks, to be sent back, in `encrypted_content` (reasoning-content.ts).
 */
interface ReasoningItem {
  type: "reasoning";
  id: string;
  summary: Array<{ type: "summary_text"; text: string }>;
  encrypted_content?: string;
}
export type OutputItem = MessageItem | FunctionCallItem | ReasoningItem;

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/**
 * Chat's per-token logprobs (`logprobs.content`: token, logprob, bytes, top_logprobs) are
 * the Responses API's output_text logprobs, entry for entry.
 */
function tokenLogprobs(logprobs: unknown): unknown[] {
  const content = (logprobs as { content?: unknown } | null | undefined)?.content;
  if (!Array.isArray(content)) return [];
  // Some providers send top_logprobs: null; the Responses API's clients expect a list.
  return content.map((entry: unknown) => (entry !== null && typeof entry === "object" ? { ...entry, top_logprobs: (entry as { top_logprobs?: unknown }).top_logprobs ?? [] } : entry));
}

/** What a streaming transport sends for each step; a plain answer passes nothing. */
export type EmitEvent = (type: string, fields: Record<string, unknown>) => void;

/** A tool call being streamed; it has no place in the output until its name is known. */
interface OpenCall {
  item: FunctionCallItem;
  at: number | undefined;
}

/**
 * Output items assembled from choice 0's pieces: text and refusal go into one assistant
 * message, each tool call (by its index) into a function_call item. A call's item is added
 * once its name is known (clients read the name from that first event) and every call stays
 * open until the calls end — when text follows or the answer ends — because providers may
 * interleave the arguments of parallel calls; the message is closed when a call begins.
 */
export class ResponseOutput {
  readonly items: OutputItem[] = [];
  private message: { item: MessageItem; at: number } | undefined;
  private part: { part: TextPart; index: number } | undefined;
  /** The calls of the current run of tool calls, by their index, in the order they began. */
  private readonly calls = new Map<number, OpenCall>();
  private reasoning: { item: ReasoningItem; at: number; blocks: unknown[] } | undefined;

  constructor(private readonly emit: EmitEvent = () => {}) {}

  /** One streamed piece of choice 0 (other choices are not part of a Responses answer). */
  chunk(choice: ChoiceChunk): void {
    if (choice.index !== 0) return;
    const { content, refusal, tool_calls: calls, reasoning_content: thought, thinking_blocks: blocks } = choice.delta;
    if (typeof thought === "string" && thought !== "") this.thinking(thought, []);
    if (Array.isArray(blocks) && blocks.length > 0) this.thinking("", blocks);
    if (typeof content === "string" && content !== "") this.text("output_text", content, tokenLogprobs(choice.logprobs));
    if (typeof refusal === "string" && refusal !== "") this.text("refusal", refusal);
    if (Array.isArray(calls)) for (const call of calls as ToolCallDelta[]) this.toolCall(call);
  }

  /** A whole answer's choice 0. */
  answer(choice: AnswerChoice | undefined, content: string): void {
    const message = choice?.message ?? { content };
    const toolCalls = (message.tool_calls as ToolCallDelta[] | undefined)?.map((c, index) => ({ ...c, index }));
    const thinking = { reasoning_content: message["reasoning_content"], thinking_blocks: message["thinking_blocks"] };
    this.chunk({ index: 0, delta: { ...thinking, content: message.content, refusal: message.refusal, tool_calls: toolCalls }, finish_reason: null, logprobs: choice?.logprobs });
    // An answer with neither text nor calls still has its (empty) message, as OpenAI's does.
    if (!this.items.some((item) => item.type !== "reasoning") && this.calls.size === 0) this.text("output_text", "");
  }

  /** Closes whatever is open; the items are then complete. */
  finish(): void {
    this.closeReasoning();
    this.closeMessage();
    this.closeCalls();
  }

  /** Thinking text (a summary delta) or signed blocks: one reasoning item ahead of what it led to. */
  private thinking(delta: string, blocks: unknown[]): void {
    if (!this.reasoning) {
      this.closeMessage();
      this.closeCalls();
      const item: ReasoningItem = { type: "reasoning", id: newId("rs"), summary: [] };
      this.reasoning = { item, at: this.items.push(item) - 1, blocks: [] };
      this.emit("response.output_item.added", { output_index: this.reasoning.at, item: { ...item, summary: [] } });
    }
    const { item, at } = this.reasoning;
    this.reasoning.blocks.push(...blocks);
    if (delta === "") return;
    const ids = { item_id: item.id, output_index: at, summary_index: 0 };
    if (item.summary.length === 0) {
      item.summary.push({ type: "summary_text", text: "" });
      this.emit("response.reasoning_summary_part.added", { ...ids, part: { type: "summary_text", text: "" } });
    }
    item.summary[0]!.text += delta;
    this.emit("response.reasoning_summary_text.delta", { ...ids, delta });
  }

  private closeReasoning(): void {
    if (!this.reasoning) return;
    const { item, at, blocks } = this.reasoning;
    const encrypted = encryptedContentOf(blocks);
    if (encrypted) item.encrypted_content = encrypted;
    const summary = item.summary[0];
    if (summary) {
      const ids = { item_id: item.id, output_index: at, summary_index: 0 };
      this.emit("response.reasoning_summary_text.done", { ...ids, text: summary.text });
      this.emit("response.reasoning_summary_part.done", { ...ids, part: { ...summary } });
    }
    this.emit("response.output_item.done", { output_index: at, item });
    this.reasoning = undefined;
  }

  private text(kind: "output_text" | "refusal", delta: string, logprobs: unknown[] = []): void {
    this.closeReasoning();
    this.closeCalls();
    if (!this.message) {
      const item: MessageItem = { type: "message", id: newId("msg"), status: "in_progress", role: "assistant", content: [] };
      this.message = { item, at: this.items.push(item) - 1 };
      this.emit("response.output_item.added", { output_index: this.message.at, item: { ...item, content: [] } });
    }
    const { item, at } = this.message;
    if (this.part?.part.type !== kind) {
      this.closePart();
      const part: TextPart = kind === "output_text" ? { type: "output_text", text: "", annotations: [], logprobs: [] } : { type: "refusal", refusal: "" };
      this.part = { part, index: item.content.push(part) - 1 };
      this.emit("response.content_part.added", { item_id: item.id, output_index: at, content_index: this.part.index, part: { ...part } });
    }
    const { part, index } = this.part;
    if (delta === "") return;
    if (part.type === "output_text") {
      part.text += delta;
      part.logprobs.push(...logprobs);
      this.emit("response.output_text.delta", { item_id: item.id, output_index: at, content_index: index, delta, logprobs });
    } else {
      part.refusal += delta;
      this.emit("response.refusal.delta", { item_id: item.id, output_index: at, content_index: index, delta });
    }
  }

  private toolCall(delta: ToolCallDelta): void {
    const index = delta.index ?? 0;
    let call = this.calls.get(index);
    if (!call) {
      this.closeReasoning();
      this.closeMessage();
      call = { item: { type: "function_call", id: newId("fc"), call_id: "", name: "", arguments: "", status: "in_progress" }, at: undefined };
      this.calls.set(index, call);
    }
    const { item } = call;
    if (delta.id && !item.call_id) item.call_id = delta.id;
    if (delta.function?.name && !item.name) item.name = delta.function.name;
    const piece = delta.function?.arguments ?? "";
    item.arguments += piece;
    if (call.at === undefined) {
      if (item.name) this.announce(call);
    } else if (piece) {
      this.emit("response.function_call_arguments.delta", { item_id: item.id, output_index: call.at, delta: piece });
    }
  }

  /** Gives a call its place in the output, with the arguments that came before its name. */
  private announce(call: OpenCall): void {
    const { item } = call;
    item.call_id ||= newId("call");
    call.at = this.items.push(item) - 1;
    this.emit("response.output_item.added", { output_index: call.at, item: { ...item, arguments: "" } });
    if (item.arguments) this.emit("response.function_call_arguments.delta", { item_id: item.id, output_index: call.at, delta: item.arguments });
  }

  private closePart(): void {
    if (!this.part || !this.message) return;
    const { part, index } = this.part;
    const ids = { item_id: this.message.item.id, output_index: this.message.at, content_index: index };
    if (part.type === "output_text") this.emit("response.output_text.done", { ...ids, text: part.text, logprobs: part.logprobs });
    else this.emit("response.refusal.done", { ...ids, refusal: part.refusal });
    this.emit("response.content_part.done", { ...ids, part: { ...part } });
    this.part = undefined;
  }

  private closeMessage(): void {
    if (!this.message) return;
    this.closePart();
    this.message.item.status = "completed";
    this.emit("response.output_item.done", { output_index: this.message.at, item: this.message.item });
    this.message = undefined;
  }

  /**
   * Ends the current run of tool calls, in output order. A call whose name never came is left
   * out: no client could run it, and an item without a name is not one a client may send back.
   */
  private closeCalls(): void {
    if (this.calls.size === 0) return;
    const inOrder = [...this.calls.values()].filter((call) => call.at !== undefined).sort((a, b) => a.at! - b.at!);
    this.calls.clear();
    for (const { item, at } of inOrder) {
      item.status = "completed";
      this.emit("response.function_call_arguments.done", { item_id: item.id, output_index: at, name: item.name, arguments: item.arguments });
      this.emit("response.output_item.done", { output_index: at, item });
    }
  }
}

export interface ResponseContext {
  id: string;
  createdAt: number;
  model: string;
  echo: TOpenAIResponsesRequest;
  /** Whether the answer is kept, to be continued or its items referred to (the request's `store`, default true). */
  store: boolean;
}

/** Why an answer stopped short, in the Responses API's words; undefined when it did not. */
function incompleteReason(finishReason: string | null | undefined): string | undefined {
  if (finishReason === "length") return "max_output_tokens";
  if (finishReason === "content_filter") return "content_filter";
  return undefined;
}

function usageOf(result: Pick<ChainResult, "usage" | "usageDetails">) {
  const details = result.usageDetails as { prompt_tokens_details?: { cached_tokens?: number }; completion_tokens_details?: { reasoning_tokens?: number } } | undefined;
  return {
    input_tokens: result.usage.promptTokens,
    input_tokens_details: { cached_tokens: details?.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: result.usage.completionTokens,
    output_tokens_details: { reasoning_tokens: details?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: result.usage.totalTokens,
  };
}

/**
 * The `response` object: while in progress (no result yet: the stream's opening events),
 * once the answer is whole, or failed (what the request log keeps of a stream that broke).
 * The request's settings are echoed back as OpenAI does.
 */
export function responseBody(
  ctx: ResponseContext,
  output: readonly OutputItem[],
  result: (Pick<ChainResult, "usage" | "usageDetails"> & { finishReason: string | null }) | undefined,
  failure?: { code: string | null; message: string },
) {
  const { echo } = ctx;
  const reason = result ? incompleteReason(result.finishReason) : undefined;
  return {
    id: ctx.id,
    object: "response",
    created_at: ctx.createdAt,
    status: failure ? "failed" : !result ? "in_progress" : reason ? "incomplete" : "completed",
    background: false,
    error: failure ? { code: failure.code, message: failure.message } : null,
    incomplete_details: reason ? { reason } : null,
    instructions: echo.instructions ?? null,
    max_output_tokens: echo.max_output_tokens ?? null,
    model: ctx.model,
    output,
    parallel_tool_calls: echo.parallel_tool_calls ?? true,
    previous_response_id: echo.previous_response_id ?? null,
    reasoning: { effort: echo.reasoning?.effort ?? null, summary: null },
    store: ctx.store,
    temperature: echo.temperature ?? null,
    text: { format: echo.text?.format ?? { type: "text" }, ...(echo.text?.verbosity ? { verbosity: echo.text.verbosity } : {}) },
    tool_choice: echo.tool_choice ?? "auto",
    tools: echo.tools ?? [],
    top_logprobs: echo.top_logprobs ?? 0,
    top_p: echo.top_p ?? null,
    // As asked: "auto" drops a continued conversation's oldest turns past the gateway's text
    // budget (responses-truncation.ts); nothing is dropped at "disabled", OpenAI's default.
    truncation: echo.truncation ?? "disabled",
    // As asked (it was forwarded); the tier the provider used is not known here.
    service_tier: (echo as { service_tier?: unknown }).service_tier ?? null,
    usage: result ? usageOf(result) : null,
    user: echo.user ?? null,
    metadata: echo.metadata ?? {},
  };
}

/** A `response` object as it is sent. */
export type SentResponse = ReturnType<typeof responseBody>;

/** A whole (non-streamed) answer as a `response` object. */
export function completedResponseBody(ctx: ResponseContext, result: ChainResult): SentResponse {
  const output = new ResponseOutput();
  const choice = result.choices?.find((c) => c.index === 0);
  output.answer(choice, result.content);
  output.finish();
  return responseBody(ctx, output.items, { ...result, finishReason: choice?.finish_reason ?? result.finishReason });
}
