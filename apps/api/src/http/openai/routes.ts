/**
 * The OpenAI-compatible surface under /v1, for any OpenAI SDK or agent framework pointed at
 * Switchboard: POST /chat/completions (JSON, or SSE ending in `data: [DONE]`), POST
 * /embeddings, GET /models and /models/{id}. Thin: authenticate, parse, one service call,
 * render. Every failure, including unknown paths (404), wrong methods (405) and oversized
 * bodies (413), answers in OpenAI's error shape. Stateless like OpenAI's API: requests carry
 * their history and are not stored.
 */
import { ZOpenAIChatRequest, ZOpenAIEmbeddingRequest } from "@switchboard/schema";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { markUpstreamStart } from "../../infra/request-scope.ts";
import { clientLeaving } from "../../trpc/context.ts";
import { listModelEntries, modelNotFound } from "../../services/chat/models.ts";
import { AppError } from "../../services/errors.ts";
import { eitherStop } from "../../services/gateway/call-outcome.ts";
import { authorizeRequest, credentialEnds } from "../caller-auth.ts";
import { parseChatRequest } from "./chat-request.ts";
import { attemptsHeader, completionBody, completionId } from "./chat-response.ts";
import { embeddingBody, parseEmbeddingRequest } from "./embeddings.ts";
import { declareFeature } from "../route-features.ts";
import { holdStreamSlot } from "../stream-slots.ts";
import { sendOpenAIError } from "./errors.ts";
import { streamCompletion } from "./sse.ts";

/** The routes and their methods, for 405 answers that name what is allowed. */
const ROUTES: Record<string, string[]> = {
  "/v1/chat/completions": ["POST"],
  "/v1/embeddings": ["POST"],
  "/v1/models": ["GET", "HEAD"],
};

/** x-ratelimit-* as OpenAI sends them, from the limit this request was counted against. */
function rateLimitHeaders(request: FastifyRequest): Record<string, string> {
  const note = request.scope?.rateLimit;
  if (!note) return {};
  return {
    "x-ratelimit-limit-requests": String(note.limit),
    "x-ratelimit-remaining-requests": String(note.remaining),
    "x-ratelimit-reset-requests": `${Math.max(0, Math.ceil(note.resetMs / 1000))}s`,
  };
}

/**
 * An unknown /v1 path (404) or a known one under another method (405), in OpenAI's shape.
 * Also used by the SPA's catch-all, which wildcard static routes can reach first.
 */
export function answerUnknownV1Path(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split("?")[0] ?? "";
  const allowed = ROUTES[path] ?? (path.startsWith("/v1/models/") ? ["GET", "HEAD"] : undefined);
  if (allowed) {
    void reply.header("allow", allowed.join(", "));
    return sendOpenAIError(request, reply, new AppError("METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${path}; use ${allowed.join(" or ")}`));
  }
  return sendOpenAIError(request, reply, new AppError("NOT_FOUND", `Unknown endpoint ${request.method} ${path}`, { details: { openaiCode: "unknown_url" } }));
}

export async function registerOpenAIRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register(
    async (v1) => {
      v1.setErrorHandler((error, request, reply) => sendOpenAIError(request, reply, error));
      // The model-serving surface; completions are chat (a chat freeze stops all of /v1).
      declareFeature(v1, "gateway");
      v1.setNotFoundHandler(answerUnknownV1Path);
      v1.addHook("onSend", (request, reply, payload, done) => {
        // An API key's own limit (set by authorizeRequest) is the one its holder runs into first.
        if (!reply.hasHeader("x-ratelimit-limit-requests")) void reply.headers(rateLimitHeaders(request));
        done(null, payload);
      });

      v1.get("/models", { config: { keyScope: "models", openapi: { summary: "List models (OpenAI-compatible)", tags: ["openai"], auth: "bearer" } } }, async (request, reply) => {
        await authorizeRequest(deps, request, reply);
        const created = Math.floor(deps.startedAt.getTime() / 1000);
        return { object: "list", data: listModelEntries(deps.providers).map((m) => ({ id: m.id, object: "model", created, owned_by: m.ownedBy })) };
      });

      v1.get<{ Params: { "*": string } }>("/models/*", { config: { keyScope: "models", openapi: { summary: "One model (OpenAI-compatible)", tags: ["openai"], auth: "bearer", wildcardParam: "id", responses: { 404: "No such model" } } } }, async (request, reply) => {
        await authorizeRequest(deps, request, reply);
        // Model names may contain a slash (`openai/gpt-4o-mini`), hence the wildcard.
        const id = request.params["*"];
        const entry = listModelEntries(deps.providers).find((m) => m.id === id);
        if (!entry) throw modelNotFound(id);
        return { id: entry.id, object: "model", created: Math.floor(deps.startedAt.getTime() / 1000), owned_by: entry.ownedBy };
      });

      v1.post(
        "/chat/completions",
        {
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
        const parsed = parseChatRequest(deps.providers, request.body);
        const caller = { leaves: clientLeaving(reply), scope: request.scope };
        const id = completionId();
        const created = Math.floor(Date.now() / 1000);
        if (!parsed.stream) {
          const result = await deps.chat.completeStateless(user.id, parsed.request, caller);
          void reply.header("x-switchboard-provider", result.provider).header("x-switchboard-attempts", attemptsHeader(result.attempts));
          return completionBody(id, created, result);
        }
        // An open stream holds one of the user's stream slots; beyond, 429 with Retry-After before it starts.
        holdStreamSlot(deps, { user: { id: user.id }, ip: undefined }, reply.raw, { openaiCode: "rate_limit_exceeded" });
        // The stream also ends when the session or API key that authorized it does.
        const events = await deps.chat.streamStateless(user.id, parsed.request, { ...caller, leaves: eitherStop(caller.leaves, credentialEnds(deps, user)) });
        // Headers leave only after the first token: this marks where Switchboard's own work
        // ends, so x-switchboard-overhead-ms does not count the wait for upstream.
        markUpstreamStart(request.scope);
        // A hijacked reply writes its own head: carry over what was set on the reply so far.
        const headers = () => ({ ...rateLimitHeaders(request), ...(reply.getHeaders() as Record<string, string>) });
        await streamCompletion(reply, events, { id, created, includeUsage: parsed.includeUsage, keepBody: deps.requestLog.storeBodies, headers });
        return reply;
      });

      v1.post("/embeddings", { config: { keyScope: "embeddings", metered: true, openapi: { summary: "Embeddings (OpenAI-compatible)", tags: ["openai"], auth: "bearer", body: ZOpenAIEmbeddingRequest } } }, async (request, reply) => {
        const user = await authorizeRequest(deps, request, reply, { model: modelOf(request.body) });
        const parsed = parseEmbeddingRequest(request.body, deps.providers);
        const result = await deps.chat.embed(user.id, parsed, { leaves: clientLeaving(reply), scope: request.scope });
        void reply.header("x-switchboard-provider", result.provider).header("x-switchboard-attempts", attemptsHeader(result.attempts));
        return embeddingBody(result);
      });
    },
    { prefix: "/v1" },
  );
}

/** The model a body asks for, for the API key's model list (validated later with the rest). */
function modelOf(body: unknown): string | undefined {
  const model = (body as { model?: unknown } | null)?.model;
  return typeof model === "string" ? model : undefined;
}

