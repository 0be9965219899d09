/**
 * One streamed reply: chain events become chat.stream events, and the reply is stored in
 * every ending: complete before `chat_complete` is sent, incomplete when the stream broke
 * or the client left after seeing text, failed when no provider produced any. A stream
 * that cannot finish always ends with an `error` event, never with a silent clean end.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { TChatAttempt, TChatSendInput, TChatStreamEvent, TChatUsage, TProviderId } from "@switchboard/schema";
import { ChainError, type ChainRequest } from "../gateway/chain-types.ts";
import { isDatabaseUnavailable } from "../../infra/database-errors.ts";
import { databaseUnavailable } from "../errors.ts";
import { streamErrorOf, type ChainFailureContext } from "./chat-errors.ts";
import type { ConversationStore, ReplyRecord, UserTurn } from "./conversation-store.ts";
import type { ProviderChain } from "../gateway/provider-chain.ts";


export async function* streamChatReply(
  deps: { chain: ProviderChain; store: ConversationStore; log: Logger; failure: ChainFailureContext },
  turn: UserTurn,
  input: TChatSendInput,
  ends: Pick<ChainRequest, "signal" | "onStop" | "scope">,
): AsyncGenerator<TChatStreamEvent> {
  const { conversationId } = turn;
  const messageId = randomUUID();
  let provider: TProviderId | null = null;
  let model: string | null = null;
  let content = "";
  let stored = false;
  const save = async (reply: Omit<ReplyRecord, "id" | "content" | "provider" | "model">) => {
    stored = true;
    await turn.whenStored();
    await deps.store.saveReply(conversationId, turn.createdAt, { id: messageId, content, provider, model, ...reply });
  };
  const failed = (attempts: TChatAttempt[], usage?: TChatUsage, latencyMs?: number) =>
    save({
      status: content === "" ? "failed" : "incomplete",
      promptTokens: usage?.promptTokens ?? null,
      completionTokens: usage?.completionTokens ?? null,
      latencyMs: latencyMs ?? null,
      attempts,
    });

  try {
    const events = deps.chain.stream({
      messages: [...turn.history, { role: "user", content: input.message }],
      model: input.model,
      temperature: input.temperature,
      maxTokens: input.maxTokens,
      pinned: input.provider,
      ...ends,
    });
    for await (const event of events) {
      if (event.type === "start") {
        // The client may open the conversation as soon as it learns its id.
        await turn.whenStored();
        provider = event.provider;
        model = event.model;
        yield { type: "chat_start", conversationId, messageId, provider: event.provider, model: event.model };
      } else if (event.type === "delta") {
        content += event.text;
        yield { type: "chat_delta", delta: event.text };
      } else if (event.type === "done") {
        const { usage, latencyMs, attempts, finishReason } = event;
        await save({ status: "complete", promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, latencyMs, attempts });
        yield { type: "chat_complete", conversationId, messageId, content, provider: event.provider, model: event.model, usage, latencyMs, attempts, finishReason };
      }
    }
  } catch (error) {
    if (error instanceof ChainError) {
      // Why the answer failed is what the client needs; a reply that cannot be stored as well
      // (the database gone meanwhile) is the server's to log.
      await failed(error.attempts, error.partial?.usage, error.partial?.latencyMs).catch((err: unknown) =>
        deps.log.error({ err, conversationId }, "could not store a failed reply"),
      );
      yield { type: "error", ...streamErrorOf(error, deps.failure), conversationId, messageId, attempts: error.attempts };
      return;
    }
    if (isDatabaseUnavailable(error)) {
      // Nothing more can be stored now: the abandoned-reply write below would only fail too.
      stored = true;
      const { message, retryAfterSec } = databaseUnavailable(error);
      yield { type: "error", code: "SERVICE_UNAVAILABLE", message, ...(retryAfterSec ? { retryAfterSec } : {}), conversationId, messageId };
      return;
    }
    deps.log.error({ err: error, conversationId }, "chat stream failed");
    if (!stored) await failed([]).catch(() => {});
    yield { type: "error", code: "INTERNAL", message: "Internal error", conversationId, messageId };
  } finally {
    // The client left mid-answer: keep what it saw, marked incomplete.
    if (!stored) {
      const attempts: TChatAttempt[] = provider ? [{ provider, model: model ?? "", outcome: "aborted", latencyMs: 0, error: "client disconnected" }] : [];
      await failed(attempts).catch((err: unknown) => deps.log.error({ err, conversationId }, "could not store an abandoned reply"));
    }
  }
}
