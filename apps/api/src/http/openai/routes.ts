/**
 * The OpenAI-compatible surface under /v1, for any OpenAI SDK or agent framework pointed at
 * Switchboard: POST /chat/completions (JSON, or SSE ending in `data: [DONE]`), POST
 * /responses (the Responses API, served through the same chat path; its kept answers read
 * back in responses-retrieval.ts), POST /embeddings, GET /models and /models/{id}. Registered
 * inside the /v1 plugin (http/v1-routes.ts), beside Anthropic's dialect. Thin: authenticate,
 * parse, one service call, render. Every failure, including unknown paths (404), wrong
 * methods (405) and oversized bodies (413), answers in OpenAI's error shape.
 * Requests carry their history and are not stored (a Responses answer is kept a while, to be
 * continued, its items referred to, or read back).
 */
import { formatMegabytes, ZOpenAIChatRequest, ZOpenAIEmbeddingRequest, ZOpenAIResponsesRequest } from "@switchboard/schema";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { clientLeaving } from "../../trpc/context.ts";
import { listModelEntriesFor } from "../../services/chat/models.ts";
import { AppError } from "../../services/errors.ts";
import { authorizeRequest } from "../caller-auth.ts";
import { attemptsHeader, complete, modelOf, openStream, type Caller } from "../chat/chat-calls.ts";
import { modelNotFound, parseChatRequest } from "../chat/chat-request.ts";
import { completionBody, completionId } from "./chat-response.ts";
import { embeddingBody, parseEmbeddingRequest } from "./embeddings.ts";
import { CHAT_PARTS, countContentParts, RESPONSES_PARTS } from "../content-parts.ts";
import { heartbeatMsOf } from "../held-event-stream.ts";
import { sendOpenAIError } from "./errors.ts";
import { streamCompletion } from "./sse.ts";
import { completedResponseBody, responseId, type SentResponse } from "./responses-body.ts";
import { parseResponsesRequest } from "./responses-request.ts";
import { registerResponseRetrieval } from "./responses-retrieval.ts";
import { streamResponse } from "./responses-sse.ts";
import type { ContinuedConversation, KeptResponse } from "../../services/response-items.ts";

/** The routes and their methods, for 405 answers that name what is allowed. */
const ROUTES: Record<string, string[]> = {
  "/v1/chat/completions": ["POST"],
  "/v1/responses": ["POST"],
  "/v1/embeddings": ["POST"],
  "/v1/models": ["GET", "HEAD"],
};

/** An unknown path of OpenAI's face (404) or a known one under another method (405), in OpenAI's shape. */
export function answerUnknownOpenAIPath(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split("?")[0] ?? "";
  const allowed = ROUTES[path] ?? (path.startsWith("/v1/models/") ? ["GET", "HEAD"] : undefined);
  if (allowed) {
    void reply.header("allow", allowed.join(", "));
    return sendOpenAIError(request, reply, new AppError("METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${path}; use ${allowed.join(" or ")}`));
  }
  const kept = /^\/v1\/responses\/[^/]+(\/input_items)?$/.exec(path);
  if (kept) {
    const methods = kept[1] ? ["GET", "HEAD"] : ["GET", "HEAD", "DELETE"];
    void reply.header("allow", methods.join(", "));
    return sendOpenAIError(request, reply, new AppError("METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${path}; use ${methods.join(" or ")}`));
  }
  if (path.startsWith("/v1/responses/")) {
    // `/cancel`: only OpenAI's background responses can be, and Switchboard runs none.
    return sendOpenAIError(request, reply, new AppError("NOT_FOUND", `Unknown endpoint ${request.method} ${path}: a kept answer can be retrieved, its input_items listed, or deleted; none runs in the background to be cancelled`, { details: { openaiCode: "unknown_url" } }));
  }
  return sendOpenAIError(request, reply, new AppError("NOT_FOUND", `Unknown endpoint ${request.method} ${path}`, { details: { openaiCode: "unknown_url" } }));
}

/** Registered inside the /v1 plugin (its prefix, error dialect, feature and rate-limit headers). */
export function registerOpenAIRoutes(v1: FastifyInstance, deps: AppDeps, bodyLimit: number): void {
      v1.get("/models", { config: { keyScope: "models", openapi: { summary: "List models (OpenAI-compatible)", tags: ["openai"], auth: "bearer" } } }, async (request, reply) => {
        const user = await authorizeRequest(deps, request, reply);
        const created = Math.floor(deps.startedAt.getTime() / 1000);
        return { object: "list", data: modelsOf(deps, user).map((m) => ({ id: m.id, object: "model", created, owned_by: m.ownedBy })) };
      });

      v1.get<{ Params: { "*": string } }>("/models/*", { config: { keyScope: "models", openapi: { summary: "One model (OpenAI-compatible)", tags: ["openai"], auth: "bearer", wildcardParam: "id", responses: { 404: "No such model" } } } }, async (request, reply) => {
        const user = await authorizeRequest(deps, request, reply);
        // Model names may contain a slash (`openai/gpt-4o-mini`), hence the wildcard.
        const id = request.params["*"];
        const entry = modelsOf(deps, user).find((m) => m.id === id);
        if (!entry) throw modelNotFound(id);
        return { id: entry.id, object: "model", created: Math.floor(deps.startedAt.getTime() / 1000), owned_by: entry.ownedBy };
      });

      v1.post(
        "/chat/completions",
        {
          bodyLimit,
          preValidation: countContentParts(CHAT_PARTS),
          config: {
            feature: "chat",
            keyScope: "chat",
            metered: true,
            openapi: {
              summary: "Chat completion (OpenAI-compatible; with stream: true, text/event-stream ending in data: [DONE])",
              tags: ["openai"],
              auth: "bearer",
              body: ZOpenAIChatRequest,
              responses: { 429: "Rate limited (Retry-After)", 503: "Emergency stop (x-should-retry: false)" },
            },
          },
        }, async (request, reply) => {
        const user = await authorizeRequest(deps, request, reply, { model: modelOf(request.body) });
        const parsed = parseChatRequest(deps.providers, request.body, { maxTextChars: deps.env.OPENAI_MAX_TEXT_CHARS });
        const id = completionId();
        const created = Math.floor(Date.now() / 1000);
        if (!parsed.stream) return completionBody(id, created, await complete(deps, request, reply, user, parsed));
        const { events, headers } = await openStream(deps, request, reply, user, parsed);
        await streamCompletion(reply, events, { id, created, includeUsage: parsed.includeUsage, keepBody: deps.requestLog.storeBodies, headers, heartbeatMs: heartbeatMsOf(deps) });
        return reply;
      });

      v1.post(
        "/responses",
        {
          bodyLimit,
          preValidation: countContentParts(RESPONSES_PARTS),
          config: {
            feature: "chat",
            keyScope: "chat",
            metered: true,
            openapi: {
              summary: "Responses API (OpenAI-compatible; answers are kept an hour per user for previous_response_id, item_reference and retrieval; with stream: true, named text/event-stream events)",
              tags: ["openai"],
              auth: "bearer",
              body: ZOpenAIResponsesRequest,
              responses: { 429: "Rate limited (Retry-After)", 503: "Emergency stop (x-should-retry: false)" },
            },
          },
        },
        async (request, reply) => {
          const user = await authorizeRequest(deps, request, reply, { model: modelOf(request.body) });
          const admitHistory = historyAdmission(request, reply, bodyLimit, user.id);
          const parsed = await parseResponsesRequest(deps.providers, { items: deps.responseItems, userId: user.id, admitHistory }, request.body, { maxTextChars: deps.env.OPENAI_MAX_TEXT_CHARS });
          const store = parsed.echo.store !== false;
          const ctx = { id: responseId(), createdAt: Math.floor(Date.now() / 1000), model: parsed.echo.model, echo: parsed.echo, store };
          const onAnswer = ({ output, ...envelope }: SentResponse) => (store ? keepAnswer(deps, request, user.id, ctx.id, { input: parsed.input, output, envelope }, parsed.continued) : Promise.resolve());
          if (!parsed.stream) {
            const result = await complete(deps, request, reply, user, parsed);
            const body = completedResponseBody({ ...ctx, model: result.model }, result);
            await onAnswer(body);
            return body;
          }
          const { events, headers } = await openStream(deps, request, reply, user, parsed);
          await streamResponse(reply, events, { ctx, keepBody: deps.requestLog.storeBodies, headers, heartbeatMs: heartbeatMsOf(deps), onAnswer });
          return reply;
        },
      );

      registerResponseRetrieval(v1, deps);

      v1.post("/embeddings", { bodyLimit, config: { keyScope: "embeddings", metered: true, openapi: { summary: "Embeddings (OpenAI-compatible)", tags: ["openai"], auth: "bearer", body: ZOpenAIEmbeddingRequest } } }, async (request, reply) => {
        const user = await authorizeRequest(deps, request, reply, { model: modelOf(request.body) });
        const parsed = parseEmbeddingRequest(request.body, deps.providers);
        const result = await deps.chat.embed(user.id, parsed, { leaves: clientLeaving(reply), scope: request.scope });
        void reply.header("x-switchboard-provider", result.provider).header("x-switchboard-attempts", attemptsHeader(result.attempts));
        return embeddingBody(result);
      });
}

/**
 * A conversation continued from kept answers is model input like a body: with the request's
 * own body, it may be no larger than the route's body limit (413 past it: send it trimmed in
 * input instead), and past the first MB it draws on the large-body pool as the caller's, as a
 * body does (503 when full, 429 past the caller's share).
 */
function historyAdmission(request: FastifyRequest, reply: FastifyReply, bodyLimit: number, userId: string): (chars: number) => void {
  // A chunked body declares no length: its size is measured again from what it parsed to
  // (only for a continued conversation), or it would leave the whole limit to the history.
  const ownBytes = () => Number(request.headers["content-length"]) || Buffer.byteLength(JSON.stringify(request.body ?? null));
  return (chars) => {
    if (chars + ownBytes() > bodyLimit) {
      throw new AppError("PAYLOAD_TOO_LARGE", `The conversation up to previous_response_id keeps about ${formatMegabytes(chars)}; with this request that is over the ${formatMegabytes(bodyLimit)} a request may carry: send it, trimmed, in input instead`, {
        details: { param: "previous_response_id" },
      });
    }
    reply.holdLargeInput(chars, userId);
  };
}

/** Keeps an answer for the caller to continue or refer to its items; the answer goes out even if that fails. */
async function keepAnswer(deps: AppDeps, request: FastifyRequest, userId: string, responseId: string, answer: KeptResponse, continued: ContinuedConversation | undefined): Promise<void> {
  await deps.responseItems.keepResponse(userId, responseId, answer, continued).catch((err: unknown) => {
    request.log.warn({ err }, "could not keep the answer: continuing it, or a later item_reference to its items, will be refused");
  });
}

/** The models the caller may ask for: every one, or those of them its API key is limited to. */
function modelsOf(deps: AppDeps, user: Caller) {
  return listModelEntriesFor(deps.providers, user.apiKey?.models ?? []);
}
