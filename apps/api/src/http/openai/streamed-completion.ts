/**
 * What the request log keeps of a streamed /v1 completion (with REQUEST_LOG_BODIES): the
 * chunks the client received merged back into the `chat.completion` a non-streamed call
 * answers — text fields joined, tool calls joined by index, logprobs appended, each choice's
 * finish reason, the usage — so a streamed and a plain call read alike in the log. A stream
 * that broke keeps what was sent, with the error event's `error`; one the client left has
 * no finish reason.
 */
import type { AnswerChoice, ChoiceChunk } from "../../providers/types.ts";
import type { ChainResult } from "../../services/gateway/chain-types.ts";
import { MAX_BODY_CHARS } from "../../services/request-log/index.ts";
import { choiceBody, usageBody, type ChunkContext } from "./chat-response.ts";

interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export class StreamedCompletion {
  private readonly choices = new Map<number, AnswerChoice>();
  private systemFingerprint: string | null | undefined;
  private usage: ReturnType<typeof usageBody> | undefined;
  private error: unknown;
  /** Characters of text taken so far: past what the log keeps, pieces are not joined any more. */
  private size = 0;

  constructor(private readonly ctx: ChunkContext) {}

  choice(chunk: ChoiceChunk, systemFingerprint: string | null | undefined): void {
    if (systemFingerprint !== undefined) this.systemFingerprint = systemFingerprint;
    let choice = this.choices.get(chunk.index);
    if (!choice) {
      choice = { index: chunk.index, message: {}, finish_reason: null };
      this.choices.set(chunk.index, choice);
    }
    if (chunk.finish_reason) choice.finish_reason = chunk.finish_reason;
    if (this.size > MAX_BODY_CHARS) return;
    this.merge(choice.message, chunk.delta);
    if (chunk.logprobs && typeof chunk.logprobs === "object") {
      const into = (choice.logprobs ??= {}) as Record<string, unknown[]>;
      for (const [key, value] of Object.entries(chunk.logprobs)) if (Array.isArray(value)) (into[key] ??= []).push(...(value as unknown[]));
    }
  }

  done(result: ChainResult): void {
    this.usage = usageBody(result.usage, result.usageDetails);
  }

  /** The `error` of the event that ended the stream. */
  failed(error: unknown): void {
    this.error = error;
  }

  text(): string {
    return JSON.stringify({
      id: this.ctx.id,
      object: "chat.completion",
      created: this.ctx.created,
      model: this.ctx.model,
      choices: [...this.choices.values()].sort((a, b) => a.index - b.index).map((c) => choiceBody(c, null)),
      usage: this.usage ?? null,
      system_fingerprint: this.systemFingerprint ?? null,
      ...(this.error !== undefined ? { error: this.error } : {}),
    });
  }

  private merge(message: AnswerChoice["message"], delta: ChoiceChunk["delta"]): void {
    for (const [key, value] of Object.entries(delta)) {
      if (value === undefined || value === null) continue;
      if (key === "tool_calls" && Array.isArray(value)) this.mergeToolCalls(message, value as ToolCallDelta[]);
      else if (typeof value === "string" && key !== "role") {
        const before = message[key];
        message[key] = typeof before === "string" ? before + value : value;
        this.size += value.length;
      } else message[key] = value;
    }
  }

  private mergeToolCalls(message: AnswerChoice["message"], deltas: ToolCallDelta[]): void {
    const calls = (message.tool_calls ??= []) as Array<{ id?: string; type: string; function: { name: string; arguments: string } }>;
    for (const d of deltas) {
      const at = d.index ?? calls.length;
      const call = (calls[at] ??= { type: "function", function: { name: "", arguments: "" } });
      if (d.id) call.id = d.id;
      if (d.type) call.type = d.type;
      if (d.function?.name) call.function.name = d.function.name;
      if (d.function?.arguments) {
        call.function.arguments += d.function.arguments;
        this.size += d.function.arguments.length;
      }
    }
  }
}
