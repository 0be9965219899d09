/**
 * What the request log keeps of a streamed chat or consensus answer (chat.stream,
 * consensus.stream, and the legacy and WebSocket surfaces that run them): one JSON text
 * instead of the events. A stream that completed is its closing event as the client got it
 * (`chat_complete` carries the whole reply, usage and finish reason; `consensus_complete`
 * the run). One that broke or was left early is its start event, what was streamed until
 * then (the text, or the answers) and the closing `error` event, if any.
 */
import { MAX_BODY_CHARS } from "./request-recorder.ts";

interface StreamEvent {
  type: string;
  delta?: unknown;
  answer?: unknown;
}

export class StreamBody {
  private start: StreamEvent | undefined;
  private end: StreamEvent | undefined;
  private content = "";
  private readonly answers: unknown[] = [];

  add(event: unknown): void {
    const e = event as StreamEvent | null;
    if (!e || typeof e.type !== "string") return;
    if (e.type === "chat_delta") {
      // The log keeps at most MAX_BODY_CHARS; a longer answer need not be held in full.
      if (typeof e.delta === "string" && this.content.length < MAX_BODY_CHARS) this.content += e.delta;
    } else if (e.type === "consensus_answer") this.answers.push(e.answer);
    else if (e.type.endsWith("_start")) this.start = e;
    else if (e.type === "error" || e.type.endsWith("_complete")) this.end = e;
  }

  text(): string | undefined {
    if (this.end?.type.endsWith("_complete")) return JSON.stringify(this.end);
    if (!this.start && !this.end) return undefined;
    return JSON.stringify({
      incomplete: true,
      ...(this.start ? { start: this.start } : {}),
      ...(this.content ? { content: this.content } : {}),
      ...(this.answers.length > 0 ? { answers: this.answers } : {}),
      ...(this.end ? { error: this.end } : {}),
    });
  }
}
