/**
 * The consolidated chat server's routes: POST /api/chat, POST /api/chat/stream (SSE),
 * GET /api/models and POST /api/save-conversation. Each calls chat procedures through a
 * server-side caller (auth, limits, freeze and validation are theirs).
 */
import { ZConversationImportInput, type TChatStreamEvent, type TConversationImportInput } from "@switchboard/schema";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { markUpstreamStart, noteErrorCode, noteStream } from "../../infra/request-scope.ts";
import { callerFor, procedureRoute, requestUser, sendProcedureError } from "../procedure-caller.ts";
import { heartbeatMsOf, holdEventStream } from "../held-event-stream.ts";
import { holdStreamSlot } from "../stream-slots.ts";
import { chatAnswerOf, chatInputOf, legacyErrorEvent, legacyStreamEvent, type LegacyStreamEvent } from "./shapes.ts";

export function registerLegacyChatRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post(
    "/api/chat",
    { config: { feature: "chat", openapi: { summary: "Chat answer (legacy chat server)", tags: ["legacy"], auth: "bearer" } } },
    procedureRoute(deps, async (caller, request) => chatAnswerOf(await caller.chat.send(chatInputOf(request.body)))),
  );

  app.post("/api/chat/stream", { config: { feature: "chat", openapi: { summary: "Chat answer as SSE events (legacy chat server)", tags: ["legacy"], auth: "bearer", responseContentType: "text/event-stream" } } }, async (request, reply) => {
    let events: AsyncIterator<TChatStreamEvent>;
    try {
      // An open stream holds the user's stream slot, as on /trpc; freed when the response closes.
      const user = await requestUser(deps, request);
      if (user) holdStreamSlot(deps, { user, ip: request.ip }, reply.raw);
      const caller = await callerFor(deps, request, reply);
      events = (await caller.chat.stream(chatInputOf(request.body)))[Symbol.asyncIterator]();
    } catch (error) {
      return sendProcedureError(reply, error);
    }
    await streamEvents(reply, events, heartbeatMsOf(deps));
    return reply;
  });

  app.get(
    "/api/models",
    { config: { feature: "gateway", openapi: { summary: "Active models (legacy chat server)", tags: ["legacy"], auth: "bearer" } } },
    procedureRoute(deps, async (caller) => {
      const providers = (await caller.chat.providers()).filter((p) => p.active);
      return {
        models: providers.map((p) => ({ id: p.model, name: p.model, provider: p.id, object: "model" })),
        default: providers[0]?.model ?? null,
      };
    }),
  );

  app.post(
    "/api/save-conversation",
    { config: { feature: "chat", openapi: { summary: "Import a conversation (legacy chat server)", tags: ["legacy"], auth: "bearer", body: ZConversationImportInput } } },
    procedureRoute(deps, async (caller, request) => {
      const saved = await caller.chat.conversations.import(request.body as TConversationImportInput);
      return { success: true, conversationId: saved.id, ...saved };
    }),
  );
}

/**
 * Writes the events as SSE `data:` lines, one JSON event each, until complete or error. The
 * head waits for the first event (held-event-stream.ts), so a refusal before it (401, 429,
 * 503) keeps its status; a model slow to its first token gets `: keep-alive` comments instead
 * of a silent connection, and a failure after one is an `error` event, as after text.
 */
async function streamEvents(reply: FastifyReply, events: AsyncIterator<TChatStreamEvent>, heartbeatMs: number): Promise<void> {
  const { scope } = reply.request;
  const stream = holdEventStream(reply, {
    headers: () => reply.getHeaders() as Record<string, string>,
    heartbeatMs,
    onOpen: () => {
      markUpstreamStart(scope);
      noteStream(scope);
    },
  });
  const send = (event: LegacyStreamEvent) => {
    if (event.type === "error") noteErrorCode(scope, event.code);
    stream.start(event.type === "chat_start" ? event.provider : undefined);
    return stream.send(event);
  };
  try {
    for (let next = await events.next(); !next.done; next = await events.next()) {
      await send(legacyStreamEvent(next.value));
      if (reply.raw.destroyed) break;
    }
  } catch (error) {
    if (!stream.open) {
      sendProcedureError(reply, error);
      return;
    }
    // Refusals once the stream is open (rare: the service reports breaks as error events; a
    // session or API key that ended mid-answer is one, a refusal slower than the heartbeat
    // another), in the words and code their status would have carried.
    await send(legacyErrorEvent(error));
  } finally {
    stream.end();
    await events.return?.();
  }
}
