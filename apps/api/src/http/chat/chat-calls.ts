/**
 * The calls every chat-shaped /v1 dialect (chat completions, Responses, Anthropic's Messages)
 * makes once its parse has a chat request: one whole answer, or a stream admitted and opened;
 * plus what those routes read of the caller and the body, and the gateway's own headers they
 * answer with. Each dialect renders the answer, and its errors, in its own shape.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { markUpstreamStart } from "../../infra/request-scope.ts";
import { eitherStop } from "../../services/gateway/call-outcome.ts";
import type { ChainResult } from "../../services/gateway/chain-types.ts";
import { clientLeaving } from "../../trpc/context.ts";
import { credentialEnds, type authorizeRequest } from "../caller-auth.ts";
import { rateLimitHeaders } from "../rate-limit-headers.ts";
import { holdStreamSlot } from "../stream-slots.ts";
import { cacheDirectivesOf, markCacheResult } from "./cache-header.ts";
import type { ParsedChatRequest } from "./chat-request.ts";

export type Caller = Awaited<ReturnType<typeof authorizeRequest>>;

/** x-ratelimit-* (sent on every /v1 route), from the user's limit this request was counted against. */
export function userRateLimitHeaders(request: FastifyRequest): Record<string, string> {
  const note = request.scope?.rateLimit;
  return note ? rateLimitHeaders(note) : {};
}

/** The attempts as one header value (x-switchboard-attempts): `beta:http_error,openai:success`. */
export function attemptsHeader(attempts: ChainResult["attempts"]): string {
  return attempts.map((a) => `${a.provider}:${a.outcome}`).join(",");
}

/**
 * One whole answer for a chat-shaped request; which provider answered goes in headers,
 * and whether the response cache did (x-switchboard-cache-ttl, or the route, asks for it).
 */
export async function complete(deps: AppDeps, request: FastifyRequest, reply: FastifyReply, user: Caller, parsed: ParsedChatRequest) {
  const cache = cacheDirectivesOf(request, parsed.cacheTerms);
  const result = await deps.chat.completeStateless(user.id, { ...parsed.request, cache }, { leaves: clientLeaving(reply), scope: request.scope });
  void reply.header("x-switchboard-provider", result.provider).header("x-switchboard-attempts", attemptsHeader(result.attempts));
  markCacheResult(request, reply);
  return result;
}

/**
 * Starts a streamed answer: admits it (a refusal is thrown, for a real HTTP status) and
 * resolves with the events to render and the headers set so far.
 */
export async function openStream(deps: AppDeps, request: FastifyRequest, reply: FastifyReply, user: Caller, parsed: ParsedChatRequest) {
  // An open stream holds one of the user's stream slots; beyond, 429 with Retry-After before it starts.
  holdStreamSlot(deps, { user: { id: user.id }, ip: undefined }, reply.raw, { openaiCode: "rate_limit_exceeded" });
  // The stream also ends when the session or API key that authorized it does.
  const leaves = eitherStop(clientLeaving(reply), credentialEnds(deps, user));
  const cache = cacheDirectivesOf(request, parsed.cacheTerms);
  const events = await deps.chat.streamStateless(user.id, { ...parsed.request, cache }, { leaves, scope: request.scope });
  markCacheResult(request, reply);
  // Headers leave only after the first token (or the first heartbeat): this marks where
  // Switchboard's own work ends, so x-switchboard-overhead-ms does not count the wait for upstream.
  markUpstreamStart(request.scope);
  // A hijacked reply writes its own head: carry over what was set on the reply so far.
  const headers = () => ({ ...userRateLimitHeaders(request), ...(reply.getHeaders() as Record<string, string>) });
  return { events, headers };
}

/** The model a body asks for, for the API key's model list (validated later with the rest). */
export function modelOf(body: unknown): string | undefined {
  const model = (body as { model?: unknown } | null)?.model;
  return typeof model === "string" ? model : undefined;
}

