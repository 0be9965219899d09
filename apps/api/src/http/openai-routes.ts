/**
 * The OpenAI-compatible surface: POST /v1/chat/completions (JSON or SSE ending in
 * `data: [DONE]`) and GET /v1/models, for any OpenAI SDK pointed at Switchboard. Thin: auth,
 * validation and the wire format here; the chain, rate limit and freeze rules live in the
 * chat service. Stateless like OpenAI's API: requests carry their history and are not stored.
 */
import { ZOpenAIChatRequest } from "@switchboard/schema";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { AppDeps } from "../deps.ts";
import { markUpstreamStart, noteErrorCode } from "../infra/request-scope.ts";
import { AppError } from "../services/errors.ts";
import { ChainError, type ChainEvent } from "../services/gateway/chain-types.ts";
import { streamErrorOf } from "../services/chat/chat-errors.ts";
import * as compat from "../services/chat/openai-compat.ts";
import { authorizeRequest } from "./caller-auth.ts";
import { openAIError, sendOpenAIError } from "./openai-errors.ts";
import { declareFeature } from "./route-features.ts";

export async function registerOpenAIRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register(
    async (v1) => {
      v1.setErrorHandler((error, request, reply) => sendOpenAIError(request, reply, error));
      declareFeature(v1, "gateway");

      v1.get("/models", { config: { keyScope: "models" } }, async (request, reply) => {
        await authorizeRequest(deps, request, reply);
        return compat.listModels(deps.providers, Math.floor(deps.startedAt.getTime() / 1000));
      });

      v1.post("/chat/completions", { config: { feature: "chat", keyScope: "chat", metered: true } }, async (request, reply) => {
        const model = (request.body as { model?: unknown } | null)?.model;
        const user = await authorizeRequest(deps, request, reply, { model: typeof model === "string" ? model : undefined });
        const parsed = ZOpenAIChatRequest.safeParse(request.body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new AppError("BAD_REQUEST", `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid request"}`);
        }
        const chatRequest = compat.toStatelessRequest(deps.providers, parsed.data);
        const disconnect = clientDisconnect(reply);
        const id = compat.completionId();
        const created = Math.floor(Date.now() / 1000);
        if (parsed.data.stream !== true) {
          const result = await deps.chat.completeStateless(user.id, chatRequest, disconnect);
          void reply.header("x-switchboard-provider", result.provider).header("x-switchboard-attempts", compat.attemptsHeader(result.attempts));
          return compat.completionBody(id, created, result);
        }
        const events = await deps.chat.streamStateless(user.id, chatRequest, disconnect);
        // Headers leave only after the first token: this marks where Switchboard's own work
        // ends, so x-switchboard-overhead-ms does not count the wait for upstream.
        markUpstreamStart();
        const includeUsage = parsed.data.stream_options?.include_usage === true;
        await streamCompletion(reply, events, { id, created, includeUsage });
        return reply;
      });
    },
    { prefix: "/v1" },
  );
}

/** Aborts when the client leaves before the response is finished. */
function clientDisconnect(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) controller.abort(new Error("client disconnected"));
  });
  return controller.signal;
}

/**
 * Holds the response until the first token: a failure before it (all providers down, rate
 * limited) still gets a real HTTP status. After it, a break is sent as an error event and
 * the stream ends without [DONE], so no client mistakes a cut answer for a whole one.
 */
async function streamCompletion(
  reply: FastifyReply,
  events: AsyncGenerator<ChainEvent>,
  opts: { id: string; created: number; includeUsage: boolean },
): Promise<void> {
  const raw = reply.raw;
  let model = "";
  let started = false;
  /** Writes one SSE event; under backpressure waits for drain (or the client leaving). */
  const send = async (data: unknown) => {
    if (raw.destroyed) return;
    if (raw.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`) || raw.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        raw.off("drain", done);
        raw.off("close", done);
        resolve();
      };
      raw.on("drain", done);
      raw.on("close", done);
    });
  };
  try {
    for await (const event of events) {
      if (event.type === "start") {
        model = event.model;
        started = true;
        reply.hijack();
        raw.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          connection: "keep-alive",
          "x-accel-buffering": "no",
          "x-switchboard-provider": event.provider,
        });
        await send(compat.chunkBody(opts.id, opts.created, model, { role: "assistant", content: "" }, null));
      } else if (event.type === "delta") {
        await send(compat.chunkBody(opts.id, opts.created, model, { content: event.text }, null));
      } else {
        await send(compat.chunkBody(opts.id, opts.created, model, {}, "stop"));
        if (opts.includeUsage) await send(compat.usageChunkBody(opts.id, opts.created, model, event.usage));
        await send("[DONE]");
      }
    }
  } catch (error) {
    if (!started) throw error;
    const { code, message } = error instanceof ChainError ? streamErrorOf(error) : { code: "INTERNAL", message: "Internal error" };
    noteErrorCode(code);
    await send(openAIError(502, message, code.toLowerCase()));
  } finally {
    if (started) raw.end();
  }
}
