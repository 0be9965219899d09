/**
 * The model-serving surface under /v1: one Fastify plugin holding both dialects a client may
 * speak, OpenAI's (http/openai/: chat completions, Responses, embeddings, models) and
 * Anthropic's (http/anthropic/: messages, count_tokens), each answering in its own error
 * shape. What they share is set here once: the prefix, the emergency-stop feature, the
 * x-ratelimit-* headers, and which dialect answers an unknown path.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../deps.ts";
import { isAnthropicPath } from "./anthropic/errors.ts";
import { answerUnknownMessagesPath, registerAnthropicRoutes } from "./anthropic/routes.ts";
import { modelInputBodyLimit } from "./body-limits.ts";
import { userRateLimitHeaders } from "./chat/chat-calls.ts";
import { sendOpenAIError } from "./openai/errors.ts";
import { answerUnknownOpenAIPath, registerOpenAIRoutes } from "./openai/routes.ts";
import { declareFeature } from "./route-features.ts";

/**
 * An unknown /v1 path (404) or a known one under another method (405), in the shape of the
 * dialect its path belongs to. Also used by the SPA's catch-all, which wildcard static routes
 * can reach first.
 */
export function answerUnknownV1Path(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split("?")[0] ?? "";
  if (isAnthropicPath(path)) return answerUnknownMessagesPath(request, reply);
  return answerUnknownOpenAIPath(request, reply);
}

export async function registerV1Routes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  // The routes that carry model input take photos (base64 data URLs) and long agent
  // histories; every other route, /v1/models included, keeps the 1 MB default.
  const bodyLimit = modelInputBodyLimit(deps.env);
  await app.register(
    async (v1) => {
      // OpenAI's shape by default; Anthropic's routes set their own in their scope.
      v1.setErrorHandler((error, request, reply) => sendOpenAIError(request, reply, error));
      // The model-serving surface; completions are chat (a chat freeze stops all of /v1).
      declareFeature(v1, "gateway");
      v1.setNotFoundHandler(answerUnknownV1Path);
      v1.addHook("onSend", (request, reply, payload, done) => {
        // An API key's own limit (set by authorizeRequest) is the one its holder runs into first.
        if (!reply.hasHeader("x-ratelimit-limit-requests")) void reply.headers(userRateLimitHeaders(request));
        done(null, payload);
      });
      registerOpenAIRoutes(v1, deps, bodyLimit);
      // Anthropic's Messages API, served by the same chat path in its own dialect.
      await registerAnthropicRoutes(v1, deps, bodyLimit);
    },
    { prefix: "/v1" },
  );
}
