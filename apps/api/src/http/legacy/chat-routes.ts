/**
 * The consolidated chat server's routes: POST /api/chat, POST /api/chat/stream (SSE),
 * GET /api/models and POST /api/save-conversation. Each calls chat procedures through a
 * server-side caller (auth, limits, freeze and validation are theirs).
 */
import { ZConversationImportInput, type TChatStreamEvent, type TConversationImportInput } from "@switchboard/schema";
import { TRPCError } from "@trpc/server";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { markUpstreamStart, noteErrorCode, noteStream } from "../../infra/request-scope.ts";
import { errorData, isSessionEnded } from "../../trpc/errors.ts";
import { callerFor, procedureRoute, requestUser, sendProcedureError } from "../procedure-caller.ts";
import { sseWriter } from "../sse-writer.ts";
import { holdStreamSlot } from "../stream-slots.ts";
import { chatAnswerOf, chatInputOf, legacyStreamEvent, type LegacyStreamEvent } from "./shapes.ts";

export function registerLegacyChatRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post(
    "/api/chat",
    { config: { feature: "chat", openapi: { summary: "Chat answer (legacy chat server)", tags: ["legacy"], auth: "bearer" } } },
    procedureRoute(deps, async (caller, request) => chatAnswerOf(await caller.chat.send(chatInputOf(request.body)))),
  );

  app.post("/api/chat/stream", { config: { feature: "chat", openapi: { summary: "Chat answer as SSE events (legacy chat server)", tags: ["legacy"], auth: "bearer", responseContentType: "text/event-stream" } } }, async (request, reply) => {
    let events: AsyncIterator<TChatStreamEvent>;
    let first: IteratorResult<TChatStreamEvent>;
    try {
      // An open stream holds the user's stream slot, as on /trpc; freed when the response closes.
      const user = await requestUser(deps, request);
      if (user) holdStreamSlot(deps, { user, ip: request.ip }, reply.raw);
      const caller = await callerFor(deps, request, reply);
      events = (await caller.chat.stream(chatInputOf(request.body)))[Symbol.asyncIterator]();
      // The first event is awaited before any header leaves: a refusal (401, 429, 503) keeps its status.
      first = await events.next();
    } catch (error) {
      return sendProcedureError(reply, error);
    }
    markUpstreamStart(request.scope);
    await streamEvents(reply, first, events);
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

/** Writes the events as SSE `data:` lines, one JSON event each, until complete or error. */
async function streamEvents(reply: FastifyReply, first: IteratorResult<TChatStreamEvent>, events: AsyncIterator<TChatStreamEvent>): Promise<void> {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-request-id": String(reply.request.id),
  });
  const { scope } = reply.request;
  noteStream(scope);
  const write = sseWriter(raw);
  const send = (event: LegacyStreamEvent) => {
    if (event.type === "error") noteErrorCode(scope, event.code);
    return write(event);
  };
  try {
    for (let next = first; !next.done; next = await events.next()) {
      await send(legacyStreamEvent(next.value));
      if (raw.destroyed) break;
    }
  } catch (error) {
    // Refusals after the first event (rare: the service reports breaks as error events; a
    // session or API key that ended mid-answer is one, told in its own words).
    const code = (error as { code?: string }).code ?? "INTERNAL";
    const retryAfterSec = error instanceof TRPCError ? errorData(error)["retryAfterSec"] : undefined;
    await send({
      type: "error",
      code,
      message: isSessionEnded(error) ? (error as Error).message : "Stream failed",
      ...(typeof retryAfterSec === "number" ? { retryAfterSec } : {}),
    });
  } finally {
    await events.return?.();
    raw.end();
  }
}
