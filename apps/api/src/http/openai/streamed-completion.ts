/**
 * What the request log keeps of a streamed /v1 completion (with REQUEST_LOG_BODIES): the
 * chunks the client received merged back into the `chat.completion` a non-streamed call
 * answers — text fields joined, tool calls joined by index, logprobs appended, each choice's
 * finish reason, the usage — so a streamed and a plain call read alike in the log. A stream
 * that broke keeps what was sent, with the error event's `error`; one the client left has
 * no finish reason.
 */
import type { ChoiceChunk } from "../../providers/types.ts";
import { ChoiceAssembly } from "../../services/gateway/choice-assembly.ts";
import type { ChainResult } from "../../services/gateway/chain-types.ts";
import { MAX_BODY_CHARS } from "../../services/request-log/index.ts";
import { choiceBody, usageBody, type ChunkContext } from "./chat-response.ts";

export class StreamedCompletion {
  /** Text past what the log keeps is not joined. */
  private readonly assembly = new ChoiceAssembly(MAX_BODY_CHARS);
  private systemFingerprint: string | null | undefined;
  private usage: ReturnType<typeof usageBody> | undefined;
  private error: unknown;

  constructor(private readonly ctx: ChunkContext) {}

  choice(chunk: ChoiceChunk, systemFingerprint: string | null | undefined): void {
    if (systemFingerprint !== undefined) this.systemFingerprint = systemFingerprint;
    this.assembly.add(chunk);
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
      choices: this.assembly.choices().map((c) => choiceBody(c, null)),
      usage: this.usage ?? null,
      system_fingerprint: this.systemFingerprint ?? null,
      ...(this.error !== undefined ? { error: this.error } : {}),
    });
  }
}
