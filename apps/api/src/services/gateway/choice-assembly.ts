/**
 * Streamed choice pieces joined back into the whole choices a non-streamed answer carries:
 * text fields joined, tool calls joined by index, logprobs appended, each choice's finish
 * reason (and an Anthropic upstream's own stop reason with it). For whatever needs a stream's
 * answer whole (the request log's body, the response cache). Past `maxChars` of text, pieces
 * are no longer joined (finish reasons still are), and `truncated` says so.
 */
import type { AnswerChoice, ChoiceChunk } from "../../providers/types.ts";

interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export class ChoiceAssembly {
  private readonly byIndex = new Map<number, AnswerChoice>();
  /** Characters of text taken so far. */
  private size = 0;

  constructor(private readonly maxChars: number) {}

  /** Whether text was left out past `maxChars`. */
  get truncated(): boolean {
    return this.size > this.maxChars;
  }

  add(chunk: ChoiceChunk): void {
    let choice = this.byIndex.get(chunk.index);
    if (!choice) {
      choice = { index: chunk.index, message: {}, finish_reason: null };
      this.byIndex.set(chunk.index, choice);
    }
    if (chunk.finish_reason) choice.finish_reason = chunk.finish_reason;
    if (chunk.anthropic_stop) choice.anthropic_stop = chunk.anthropic_stop;
    if (this.truncated) return;
    this.merge(choice.message, chunk.delta);
    if (chunk.logprobs && typeof chunk.logprobs === "object") {
      const into = (choice.logprobs ??= {}) as Record<string, unknown[]>;
      for (const [key, value] of Object.entries(chunk.logprobs)) if (Array.isArray(value)) (into[key] ??= []).push(...(value as unknown[]));
    }
  }

  /** The choices so far, by index. */
  choices(): AnswerChoice[] {
    return [...this.byIndex.values()].sort((a, b) => a.index - b.index);
  }

  /**
   * Joins a piece into what came before: text is appended (`role` is not: it is said once),
   * lists are extended (Anthropic's `thinking_blocks` come one block a piece), objects joined
   * field by field (`audio`'s data and transcript come in pieces); anything else replaces.
   */
  private merge(into: Record<string, unknown>, delta: Record<string, unknown>, top = true): void {
    for (const [key, value] of Object.entries(delta)) {
      if (value === undefined || value === null) continue;
      const before = into[key];
      if (top && key === "tool_calls" && Array.isArray(value)) this.mergeToolCalls(into as AnswerChoice["message"], value as ToolCallDelta[]);
      else if (typeof value === "string" && key !== "role") {
        into[key] = typeof before === "string" ? before + value : value;
        this.size += value.length;
      } else if (Array.isArray(value)) into[key] = Array.isArray(before) ? [...(before as unknown[]), ...(value as unknown[])] : value;
      else if (typeof value === "object" && before !== null && typeof before === "object" && !Array.isArray(before)) this.merge(before as Record<string, unknown>, value as Record<string, unknown>, false);
      else into[key] = typeof value === "object" ? { ...(value as object) } : value;
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
