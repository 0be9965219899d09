/**
 * Streams an answer as Anthropic's Messages events: `message_start` and a `ping` when the
 * first provider answers, then one content block at a time (`content_block_start`, its
 * `text_delta` or `input_json_delta` pieces, `content_block_stop`: message-blocks.ts), then
 * `message_delta` (stop_reason, stop_sequence, usage) and `message_stop`. As with the /v1
 * chat streams the head waits for the first event, or the first heartbeat when that is long
 * in coming (held-event-stream.ts, `: keep-alive` comments during a silence), so a failure
 * before it (every provider down, rate limited) is a real status; a failure after it is an
 * `error` event and the stream ends without `message_stop`, so no client mistakes a cut
 * answer for a whole one. With `keepBody` the request log keeps the message as a whole
 * answer would read.
 */
import type { FastifyReply } from "fastify";
import { noteResponseBody } from "../../infra/request-scope.ts";
import { anthropicUsage } from "../../providers/anthropic-translate.ts";
import type { ChoiceChunk } from "../../providers/types.ts";
import { ChoiceAssembly } from "../../services/gateway/choice-assembly.ts";
import type { ChainEvent } from "../../services/gateway/chain-types.ts";
import { MAX_BODY_CHARS } from "../../services/request-log/index.ts";
import { holdEventStream } from "../held-event-stream.ts";
import { streamFailureEvent, type AnthropicErrorBody } from "./errors.ts";
import { ContentBlocks, type Emit } from "./message-blocks.ts";
import { anthropicMessageOf, stopOf, usageOfResult } from "./messages-response.ts";

export async function streamMessage(
  reply: FastifyReply,
  events: AsyncGenerator<ChainEvent>,
  opts: { id: string; stopSequences: readonly string[]; keepBody: boolean; headers: () => Record<string, string>; heartbeatMs: number },
): Promise<void> {
  let model = "";
  // Pieces are serialized as they are reported and written in order.
  let pending: Array<[string, string]> = [];
  const emit: Emit = (type, fields) => pending.push([type, JSON.stringify({ type, ...fields })]);
  const flush = async () => {
    const out = pending;
    pending = [];
    for (const [type, data] of out) await stream.send(data, type);
  };
  const blocks = new ContentBlocks(emit);
  // What the log keeps: the pieces joined back into the message a whole answer would be.
  const kept = opts.keepBody ? new ChoiceAssembly(MAX_BODY_CHARS) : undefined;
  let ended: Extract<ChainEvent, { type: "done" }> | undefined;
  let failed: AnthropicErrorBody["error"] | undefined;
  const stream = holdEventStream(reply, {
    headers: opts.headers,
    heartbeatMs: opts.heartbeatMs,
    onOpen: () => kept && noteResponseBody(reply.request.scope, () => keptBody(opts.id, model, kept, ended, failed, opts.stopSequences)),
  });
  let finish: { reason: string | null; choice: ChoiceChunk | undefined } = { reason: null, choice: undefined };
  try {
    for await (const event of events) {
      if (event.type === "start") {
        model = event.model;
        stream.start(event.provider);
        const message = { id: opts.id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(undefined) };
        emit("message_start", { message });
        emit("ping", {});
      } else if (event.type === "choice" && event.choice.index === 0) {
        kept?.add(event.choice);
        blocks.piece(event.choice.delta);
        if (event.choice.finish_reason) finish = { reason: event.choice.finish_reason, choice: event.choice };
      } else if (event.type === "done") {
        ended = event;
        blocks.close();
        emit("message_delta", {
          delta: stopOf(finish.choice, finish.reason ?? event.finishReason, opts.stopSequences),
          // Anthropic's usage here is the whole message's; input_tokens too (known only now).
          usage: anthropicUsage(usageOfResult(event)),
        });
        emit("message_stop", {});
      }
      await flush();
    }
  } catch (error) {
    if (!stream.open) throw error;
    const failure = streamFailureEvent(reply.request.scope, error);
    failed = failure.error;
    pending = [];
    emit("error", { error: failure.error });
    await flush();
  } finally {
    stream.end();
  }
}

function keptBody(
  id: string,
  model: string,
  kept: ChoiceAssembly,
  ended: Extract<ChainEvent, { type: "done" }> | undefined,
  failed: AnthropicErrorBody["error"] | undefined,
  stopSequences: readonly string[],
): string {
  const choice = kept.choices()[0] ?? { index: 0, message: {}, finish_reason: null };
  const message = anthropicMessageOf(id, model, choice, ended ? usageOfResult(ended) : undefined, stopSequences);
  // A stream that broke, or that its client left, did not end: it has no stop reason.
  return JSON.stringify({ ...message, ...(ended ? {} : { stop_reason: null }), ...(failed ? { error: failed } : {}) });
}
