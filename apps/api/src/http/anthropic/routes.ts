/**
 * The Anthropic-compatible face under /v1, for Anthropic's SDKs and Claude Code pointed at
 * Switchboard (ANTHROPIC_BASE_URL): POST /messages (a message, or its SSE events) and POST
 * /messages/count_tokens (an estimate). A message request is translated to the chat request
 * it means and served by the same path as /v1/chat/completions (http/chat/): the same
 * authentication (`x-api-key` taken as well as `Authorization: Bearer`), API-key scopes and
 * models, rate limits, budgets, emergency stop, fallback chain, request log and cache. Every
 * failure on these paths answers in Anthropic's error shape (errors.ts).
 */
import { ZAnthropicCountTokensRequest, ZAnthropicMessagesRequest } from "@switchboard/schema";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { AppError } from "../../services/errors.ts";
import { estimatedPromptTokens, estimatedTokens } from "../../services/gateway/answer-output.ts";
import { authorizeRequest } from "../caller-auth.ts";
import { ANTHROPIC_PARTS, countContentParts } from "../content-parts.ts";
import { heartbeatMsOf } from "../held-event-stream.ts";
import { complete, modelOf, openStream } from "../chat/chat-calls.ts";
import { sendAnthropicError } from "./errors.ts";
import { parseCountTokensRequest, parseMessagesRequest } from "./messages-request.ts";
import { messageBody, messageId } from "./messages-response.ts";
import { streamMessage } from "./messages-sse.ts";

const ROUTES: Record<string, string[]> = {
  "/v1/messages": ["POST"],
  "/v1/messages/count_tokens": ["POST"],
};

/** An unknown path under /v1/messages (404) or a known one under another method (405), in Anthropic's shape. */
export function answerUnknownMessagesPath(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split("?")[0] ?? "";
  const allowed = ROUTES[path];
  if (allowed) {
    void reply.header("allow", allowed.join(", "));
    return sendAnthropicError(request, reply, new AppError("METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${path}; use ${allowed.join(" or ")}`));
  }
  // Message Batches and the rest of Anthropic's API have nothing behind them here.
  return sendAnthropicError(request, reply, new AppError("NOT_FOUND", `Unknown endpoint ${request.method} ${path}: Switchboard serves POST /v1/messages and /v1/messages/count_tokens`));
}

/** Registered inside the /v1 plugin (its prefix, feature and rate-limit headers), with its own error dialect. */
export async function registerAnthropicRoutes(v1: FastifyInstance, deps: AppDeps, bodyLimit: number): Promise<void> {
  await v1.register(async (scope) => {
    scope.setErrorHandler((error, request, reply) => sendAnthropicError(request, reply, error));
    // Where Anthropic's SDKs read a request's id (`_request_id`, and in their errors): set on
    // arrival, so a stream's head (written outside Fastify's send) carries it too, and on
    // sending, for a refusal that came before this scope's hooks ran.
    scope.addHook("onRequest", (request, reply, done) => {
      void reply.header("request-id", request.id);
      done();
    });
    scope.addHook("onSend", (request, reply, payload, done) => {
      if (!reply.hasHeader("request-id")) void reply.header("request-id", request.id);
      done(null, payload);
    });
    const limits = { maxTextChars: deps.env.OPENAI_MAX_TEXT_CHARS };

    scope.post(
      "/messages",
      {
        bodyLimit,
        preValidation: countContentParts(ANTHROPIC_PARTS),
        config: {
          feature: "chat",
          keyScope: "chat",
          metered: true,
          apiKeyHeader: true,
          openapi: {
            summary: "Messages (Anthropic-compatible; with stream: true, text/event-stream of message_start … message_stop)",
            tags: ["anthropic"],
            auth: "bearer",
            body: ZAnthropicMessagesRequest,
            responses: { 429: "Rate limited (Retry-After)", 503: "Emergency stop (x-should-retry: false)" },
          },
        },
      },
      async (request, reply) => {
        const user = await authorizeRequest(deps, request, reply, { model: modelOf(request.body) });
        const parsed = parseMessagesRequest(deps.providers, request.body, limits);
        const id = messageId();
        if (!parsed.stream) return messageBody(id, await complete(deps, request, reply, user, parsed), parsed.stopSequences);
        const { events, headers } = await openStream(deps, request, reply, user, parsed);
        await streamMessage(reply, events, { id, stopSequences: parsed.stopSequences, keepBody: deps.requestLog.storeBodies, headers, heartbeatMs: heartbeatMsOf(deps) });
        return reply;
      },
    );

    scope.post(
      "/messages/count_tokens",
      {
        bodyLimit,
        preValidation: countContentParts(ANTHROPIC_PARTS),
        config: {
          feature: "chat",
          keyScope: "chat",
          // A request like any other against the caller's rate limits, though no provider is called.
          counted: true,
          apiKeyHeader: true,
          openapi: {
            summary: "Count tokens (Anthropic-compatible): an estimate, about 4 characters a token, as the gateway counts an answer whose provider reports no usage",
            tags: ["anthropic"],
            auth: "bearer",
            body: ZAnthropicCountTokensRequest,
          },
        },
      },
      async (request, reply) => {
        await authorizeRequest(deps, request, reply, { model: modelOf(request.body) });
        const parsed = parseCountTokensRequest(deps.providers, request.body, limits);
        // Tool definitions are part of the prompt a model reads.
        const tools = parsed.request.passthrough?.["tools"];
        const toolTokens = tools === undefined ? 0 : estimatedTokens(JSON.stringify(tools).length);
        return { input_tokens: estimatedPromptTokens(parsed.request.messages) + toolTokens };
      },
    );
  });
}
