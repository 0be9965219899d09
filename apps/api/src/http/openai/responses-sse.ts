/**
 * Streams an answer as Responses API events (`event: response.output_text.delta` …), each
 * numbered by `sequence_number`: `response.created` and `response.in_progress` when the
 * first provider answers, the items as they build, then `response.completed` (or
 * `response.incomplete` when the answer was cut at its token limit or filtered). As with chat
 * streams, the HTTP status waits for the first event, or the first heartbeat when that is long
 * in coming (held-event-stream.ts), so a failure before it (every provider down, rate limited)
 * is a real status; a failure after it is an `error` event (the only event, when it came
 * before any provider answered), and the stream ends without `response.completed`, so no
 * client mistakes a cut answer for a whole one.
 */
import type { FastifyReply } from "fastify";
import { noteResponseBody } from "../../infra/request-scope.ts";
import type { ChainEvent } from "../../services/gateway/chain-types.ts";
import { streamFailureBody } from "./errors.ts";
import { holdEventStream } from "../held-event-stream.ts";
import { ResponseOutput, responseBody, type ResponseContext, type SentResponse } from "./responses-body.ts";

export async function streamResponse(
  reply: FastifyReply,
  events: AsyncGenerator<ChainEvent>,
  opts: {
    ctx: ResponseContext;
    keepBody: boolean;
    headers: () => Record<string, string>;
    heartbeatMs: number;
    /** Runs with the whole answer before its last event goes out (for a later previous_response_id, item_reference or retrieval). */
    onAnswer: (answer: SentResponse) => Promise<void>;
  },
): Promise<void> {
  const { ctx } = opts;
  let sequence = 0;
  // The builder reports synchronously; what it reports is serialized at once and written in order.
  let pending: Array<[string, string]> = [];
  const emit = (type: string, fields: Record<string, unknown>) => pending.push([type, JSON.stringify({ type, sequence_number: sequence++, ...fields })]);
  const flush = async () => {
    const out = pending;
    pending = [];
    for (const [type, data] of out) await stream.send(data, type);
  };
  const output = new ResponseOutput(emit);
  let ended: Parameters<typeof responseBody>[2];
  let failed: Parameters<typeof responseBody>[3];
  const stream = holdEventStream(reply, {
    headers: opts.headers,
    heartbeatMs: opts.heartbeatMs,
    onOpen: () => opts.keepBody && noteResponseBody(reply.request.scope, () => JSON.stringify(responseBody(ctx, output.items, ended, failed))),
  });
  try {
    for await (const event of events) {
      if (event.type === "start") {
        ctx.model = event.model;
        stream.start(event.provider);
        const opening = responseBody(ctx, [], undefined);
        emit("response.created", { response: opening });
        emit("response.in_progress", { response: opening });
      } else if (event.type === "choice") {
        output.chunk(event.choice);
      } else if (event.type === "done") {
        output.finish();
        ended = event;
        const body = responseBody(ctx, output.items, ended);
        // Before the last event, so a client that sends its next request at once can name this answer.
        await opts.onAnswer(body);
        emit(body.status === "incomplete" ? "response.incomplete" : "response.completed", { response: body });
      }
      await flush();
    }
  } catch (error) {
    if (!stream.open) throw error;
    const { error: failure } = streamFailureBody(reply.request.scope, error);
    failed = failure;
    pending = [];
    // OpenAI's error event carries code, message and param at the top; `error` as well, which
    // is what the official SDKs raise on (an event without it would pass as one more event).
    emit("error", { code: failure.code, message: failure.message, param: failure.param, error: failure });
    await flush();
  } finally {
    stream.end();
  }
}
