/**
 * Choice 0's streamed pieces as Anthropic's content blocks, for messages-sse.ts: one block
 * open at a time, every delta of a block between its `content_block_start` and its
 * `content_block_stop` (Anthropic's SDKs freeze a tool_use block's input at its stop). Text
 * goes out as it comes, a tool call's arguments on the call's own block.
 *
 * OpenAI-style streams may interleave tool calls (pieces of call 0, then call 1, then call 0
 * again). A call's block is closed for another only once its arguments are a whole JSON
 * object, which more pieces could only break; until then what comes for another call, and
 * any text after it, waits, and goes out block by block, whole, at the end. A call that
 * follows a finished one, and text before any call, go out as they come.
 */
import type { ChoiceChunk } from "../../providers/types.ts";
import { toolUseId } from "./messages-response.ts";

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

export type Emit = (type: string, fields: Record<string, unknown>) => void;

interface Call {
  id: string | undefined;
  name: string | undefined;
  /** The arguments so far, while they may still go out: emptied once its block is closed. */
  args: string;
  /** Its block, once started. */
  block?: number;
  /** Waiting for the end of the stream. */
  held?: true;
}

type Held = { kind: "text"; text: string } | { kind: "tool"; call: Call };

/** Arguments that more pieces could only break: a whole JSON object (or array). */
function wholeJson(args: string): boolean {
  const last = args.trimEnd().at(-1);
  if (last !== "}" && last !== "]") return false;
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === "object" && value !== null;
  } catch {
    return false;
  }
}

export class ContentBlocks {
  private count = 0;
  private open: { index: number; kind: "text" } | { index: number; kind: "tool"; call: Call } | undefined;
  /** Each tool call by its index in the choice. */
  private readonly calls = new Map<number, Call>();
  /** What waits for the end, in the order it came. */
  private readonly held: Held[] = [];

  constructor(private readonly emit: Emit) {}

  piece(delta: ChoiceChunk["delta"]): void {
    const text = [delta.content, delta.refusal].filter((t): t is string => typeof t === "string").join("");
    if (text !== "") this.text(text);
    for (const piece of (delta.tool_calls ?? []) as ToolCallDelta[]) this.toolCall(piece);
  }

  /** The end of the answer: the open block closes, then what waited goes out, a whole block each. */
  close(): void {
    this.stop();
    for (const item of this.held.splice(0)) {
      if (item.kind === "text") {
        this.startText();
        this.emit("content_block_delta", { index: this.open!.index, delta: { type: "text_delta", text: item.text } });
      } else this.startCall(item.call);
      this.stop();
    }
  }

  private text(text: string): void {
    if (this.open?.kind !== "text") {
      if (!this.mayMoveOn()) {
        const last = this.held.at(-1);
        if (last?.kind === "text") last.text += text;
        else this.held.push({ kind: "text", text });
        return;
      }
      this.startText();
    }
    this.emit("content_block_delta", { index: this.open!.index, delta: { type: "text_delta", text } });
  }

  private toolCall(piece: ToolCallDelta): void {
    const at = piece.index ?? 0;
    const json = piece.function?.arguments ?? "";
    let call = this.calls.get(at);
    if (!call) {
      call = { id: piece.id, name: piece.function?.name, args: "" };
      this.calls.set(at, call);
    }
    if (this.open?.kind === "tool" && this.open.call === call) {
      call.args += json;
      if (json) this.emit("content_block_delta", { index: this.open.index, delta: { type: "input_json_delta", partial_json: json } });
      return;
    }
    // Started and closed: its arguments were whole, so what follows is whitespace or breaks
    // them, and cannot follow its stop; nor is it kept.
    if (call.block !== undefined) return;
    call.args += json;
    // Waiting, its arguments gathered for the end.
    if (call.held) return;
    if (this.mayMoveOn()) return this.startCall(call);
    call.held = true;
    this.held.push({ kind: "tool", call });
  }

  /** The open block may give way: text always, a tool call once its arguments are whole; nothing overtakes what waits. */
  private mayMoveOn(): boolean {
    if (this.held.length > 0) return false;
    return this.open?.kind !== "tool" || wholeJson(this.open.call.args);
  }

  private startText(): void {
    this.start({ type: "text", text: "" }, { kind: "text" });
  }

  /** A call's block, with the arguments it has so far. */
  private startCall(call: Call): void {
    call.block = this.start({ type: "tool_use", id: call.id ?? toolUseId(), name: call.name ?? "", input: {} }, { kind: "tool", call });
    if (call.args) this.emit("content_block_delta", { index: call.block, delta: { type: "input_json_delta", partial_json: call.args } });
  }

  private start(block: Record<string, unknown>, kind: { kind: "text" } | { kind: "tool"; call: Call }): number {
    this.stop();
    const index = this.count++;
    this.open = { index, ...kind };
    this.emit("content_block_start", { index, content_block: block });
    return index;
  }

  private stop(): void {
    if (this.open) this.emit("content_block_stop", { index: this.open.index });
    // A closed call's arguments have gone out and are not needed again.
    if (this.open?.kind === "tool") this.open.call.args = "";
    this.open = undefined;
  }
}
