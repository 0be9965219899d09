/**
 * Streams a chat completion as Server-Sent Events ending in `data: [DONE]`. The response is
 * held until the first event, or the first heartbeat when that is long in coming
 * (held-event-stream.ts): a failure before it (every provider down, rate limited) still gets
 * a real HTTP status. After it, a failure (the upstream's, or the end of the session or API
 * key that authorized the stream) is sent as an OpenAI-shaped error event and the stream
 * ends without [DONE], so no client mistakes a cut answer for a whole one. With `keepBody`
 * (the request log stores bodies) what was sent is also assembled into the request's
 * response body (streamed-completion.ts).
 */
import type { FastifyReply } from "fastify";
import { noteResponseBody } from "../../infra/request-scope.ts";
import type { ChainEvent } from "../../services/gateway/chain-types.ts";
import { chunkBody, usageChunkBody, type ChunkContext } from "./chat-response.ts";
import { streamFailureBody } from "./errors.ts";
import { holdEventStream } from "../held-event-stream.ts";
import { StreamedCompletion } from "./streamed-completion.ts";

export async function streamCompletion(
  reply: FastifyReply,
  events: AsyncGenerator<ChainEvent>,
  opts: { id: string; created: number; includeUsage: boolean; keepBody: boolean; headers: () => Record<string, string>; heartbeatMs: number },
): Promise<void> {
  const ctx: ChunkContext = { id: opts.id, created: opts.created, model: "" };
  // Choice indexes whose role was said, by the upstream or by us: each is said once.
  const roleSent = new Set<number>();
  const body = opts.keepBody ? new StreamedCompletion(ctx) : undefined;
  const stream = holdEventStream(reply, {
    headers: opts.headers,
    heartbeatMs: opts.heartbeatMs,
    onOpen: () => body && noteResponseBody(reply.request.scope, () => body.text()),
  });
  const send = (data: unknown) => stream.send(data);
  try {
    for await (const event of events) {
      if (event.type === "start") {
        ctx.model = event.model;
        stream.start(event.provider);
      } else if (event.type === "choice") {
        // Providers that stream text only send no role: each choice's first chunk says it, as
        // OpenAI's does, for every choice of n > 1 (clients check each choice's role).
        const index = event.choice.index;
        if (!roleSent.has(index) && event.choice.delta.role === undefined) {
          await send(chunkBody(ctx, { index, delta: { role: "assistant", content: "" }, finish_reason: null }));
        }
        roleSent.add(index);
        body?.choice(event.choice, event.systemFingerprint);
        await send(chunkBody(ctx, event.choice, event.systemFingerprint, event.extras));
      } else if (event.type === "done") {
        body?.done(event);
        if (opts.includeUsage) await send(usageChunkBody(ctx, event));
        await send("[DONE]");
      }
    }
  } catch (error) {
    if (!stream.open) throw error;
    const failure = streamFailureBody(reply.request.scope, error);
    body?.failed(failure.error);
    await send(failure);
  } finally {
    stream.end();
  }
}
