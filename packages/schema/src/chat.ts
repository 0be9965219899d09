import { z } from "zod";
import { namedEnum, ZId, ZPageInput } from "./common.ts";

/**
 * The providers configured by environment variables, in the default fallback order. On
 * first start they seed the provider table under these names; after that providers are
 * data and any name matching PROVIDER_NAME_PATTERN can exist.
 */
export const PROVIDER_IDS = ["beta", "deepseek", "openai", "ollama", "template"] as const;
export type TEnvProviderId = (typeof PROVIDER_IDS)[number];

/** A provider's name: what clients, routes, metrics (ai.<name>) and freeze scopes use. */
export const PROVIDER_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const ZProviderId = z
  .string({ error: "provider must be a string" })
  .regex(PROVIDER_NAME_PATTERN, "A provider name is 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit");
export type TProviderId = z.infer<typeof ZProviderId>;

/**
 * Size limits. A message over `messageMaxChars` is refused with a 400 that names the limit;
 * a conversation stops accepting messages at `conversationMaxMessages` (413), so one thread
 * cannot grow without bound. Bodies over 1 MB never reach the schemas (413 from the server).
 */
export const CHAT_LIMITS = {
  messageMaxChars: 32_000,
  conversationMaxMessages: 1_000,
  /** Conversations one user may keep: a bound on what one account can store. */
  conversationsPerUser: 10_000,
  modelNameMaxChars: 200,
  maxTokens: 32_768,
  clarifyMaxQuestions: 3,
} as const;

export const ZChatMessageText = z
  .string({ error: "message must be a string" })
  .trim()
  .min(1, "Message is empty")
  .max(CHAT_LIMITS.messageMaxChars, `Message is too long (limit ${CHAT_LIMITS.messageMaxChars} characters)`);

const chatRequestFields = {
  message: ZChatMessageText,
  conversationId: ZId.optional(),
  /** Pins one provider: no fallback to others. */
  provider: ZProviderId.optional(),
  /** Overrides the provider's configured model. */
  model: z.string().trim().min(1).max(CHAT_LIMITS.modelNameMaxChars).optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().min(1).max(CHAT_LIMITS.maxTokens).optional(),
};

export const ZChatSendInput = z.object(chatRequestFields);
export type TChatSendInput = z.infer<typeof ZChatSendInput>;
export const ZChatStreamInput = z.object(chatRequestFields);
export type TChatStreamInput = z.infer<typeof ZChatStreamInput>;

export const ZChatUsage = z.object({
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  totalTokens: z.number().int().nonnegative(),
});
export type TChatUsage = z.infer<typeof ZChatUsage>;

/**
 * What happened to one provider while serving a request. `skipped_*` outcomes cost no
 * upstream call; every other outcome is a real call with its latency.
 */
export const ATTEMPT_OUTCOMES = [
  "success",
  "timeout",
  "rate_limited",
  "http_error",
  "connection_error",
  "malformed",
  "interrupted",
  "idle_timeout",
  "aborted",
  /** The provider cannot serve this kind of request (e.g. the template and tool_choice). */
  "unsupported",
  /** The upstream refused the request itself (a 4xx it caused): passed to the caller, no fallback. */
  "rejected",
  /** This instance had no room to hold the provider's answer: the request ends with a 503 to retry, no fallback. */
  "overloaded",
  "skipped_circuit_open",
  "skipped_rate_limited",
  "skipped_frozen",
] as const;
export const ZAttemptOutcome = z.enum(ATTEMPT_OUTCOMES);
export type TAttemptOutcome = z.infer<typeof ZAttemptOutcome>;

export const ZChatAttempt = z.object({
  provider: ZProviderId,
  model: z.string(),
  outcome: ZAttemptOutcome,
  latencyMs: z.number().int().nonnegative(),
  status: z.number().int().optional(),
  error: z.string().optional(),
  /** For `unsupported`: the request field the provider cannot serve (e.g. `n`), when it says. */
  param: z.string().optional(),
  /**
   * The provider refused in a way retrying cannot change (its credentials, permissions, billing
   * or quota): until an operator fixes it, every call there fails the same way.
   */
  permanent: z.boolean().optional(),
});
export type TChatAttempt = z.infer<typeof ZChatAttempt>;

export const ZChatSendOutput = z.object({
  conversationId: z.string(),
  messageId: z.string(),
  content: z.string(),
  provider: ZProviderId,
  model: z.string(),
  usage: ZChatUsage,
  latencyMs: z.number().int().nonnegative(),
  attempts: z.array(ZChatAttempt),
  /** Why the answer ended, as the provider said: stop, length, tool_calls, content_filter… */
  finishReason: z.string(),
});
export type TChatSendOutput = z.infer<typeof ZChatSendOutput>;

/** Codes of the `error` event that ends a chat stream which could not complete. */
export const CHAT_STREAM_ERROR_CODES = [
  "UPSTREAM_ERROR",
  "STREAM_INTERRUPTED",
  "STREAM_IDLE_TIMEOUT",
  "EMERGENCY_STOP",
  "ABORTED",
  "SERVICE_UNAVAILABLE",
  "INTERNAL",
] as const;
export type TChatStreamErrorCode = (typeof CHAT_STREAM_ERROR_CODES)[number];

/** chat.stream events. `delta` carries new text; chat_complete carries the whole reply. */
export const ZChatStreamEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("chat_start"),
    conversationId: z.string(),
    messageId: z.string(),
    provider: ZProviderId,
    model: z.string(),
  }),
  z.object({ type: z.literal("chat_delta"), delta: z.string() }),
  z.object({
    type: z.literal("chat_complete"),
    conversationId: z.string(),
    messageId: z.string(),
    content: z.string(),
    provider: ZProviderId,
    model: z.string(),
    usage: ZChatUsage,
    latencyMs: z.number().int().nonnegative(),
    attempts: z.array(ZChatAttempt),
    finishReason: z.string(),
  }),
  z.object({
    type: z.literal("error"),
    code: z.enum(CHAT_STREAM_ERROR_CODES),
    message: z.string(),
    conversationId: z.string().optional(),
    messageId: z.string().optional(),
    attempts: z.array(ZChatAttempt).optional(),
    /** Seconds after which the same request may succeed (a freeze's expiry, the database back, an upstream's rate limit); absent when waiting will not help. */
    retryAfterSec: z.number().int().positive().optional(),
  }),
]);
export type TChatStreamEvent = z.infer<typeof ZChatStreamEvent>;

export const ZClarifyInput = z.object({
  message: ZChatMessageText,
  provider: ZProviderId.optional(),
});
export type TClarifyInput = z.infer<typeof ZClarifyInput>;

/** What a model must return for chat.clarify (also the JSON schema sent as structured output). */
export const ZClarifyQuestions = z.object({
  questions: z.array(z.string().trim().min(3).max(500)).min(1).max(CHAT_LIMITS.clarifyMaxQuestions),
});

export const ZClarifyOutput = ZClarifyQuestions.extend({
  provider: ZProviderId,
  model: z.string(),
  attempts: z.array(ZChatAttempt),
});
export type TClarifyOutput = z.infer<typeof ZClarifyOutput>;

export const ZCircuitState = z.enum(["closed", "open", "half_open"]);

export const ZChatProvider = z.object({
  id: ZProviderId,
  kind: z.enum(["openai-compatible", "anthropic", "ollama", "azure-openai", "template"]),
  model: z.string(),
  /** Configured (URL/key set) and listed in PROVIDER_ORDER. */
  active: z.boolean(),
  /** Position in the fallback chain (0 = tried first); null when not in PROVIDER_ORDER. */
  order: z.number().int().nullable(),
  baseUrl: z.string().nullable(),
  circuit: z.object({
    state: ZCircuitState,
    consecutiveFailures: z.number().int(),
    retryAt: z.string().nullable(),
  }),
  /** Set while the provider is skipped after a 429 (honouring its Retry-After). */
  rateLimitedUntil: z.string().nullable(),
  frozen: z.boolean(),
});
export type TChatProvider = z.infer<typeof ZChatProvider>;

export const MESSAGE_STATUSES = ["complete", "incomplete", "failed"] as const;

export const ZChatMessage = z.object({
  id: z.string(),
  role: z.enum(["user", "assistant", "system"]),
  content: z.string(),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  status: z.enum(MESSAGE_STATUSES),
  promptTokens: z.number().int().nullable(),
  completionTokens: z.number().int().nullable(),
  latencyMs: z.number().int().nullable(),
  attempts: z.array(ZChatAttempt).nullable(),
  createdAt: z.string(),
});
export type TChatMessage = z.infer<typeof ZChatMessage>;

export const ZConversationSummary = z.object({
  id: z.string(),
  userId: z.string(),
  title: z.string(),
  messageCount: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type TConversationSummary = z.infer<typeof ZConversationSummary>;

export const ZConversation = ZConversationSummary.extend({
  /** Oldest first: every message, or the page asked for. */
  messages: z.array(ZChatMessage),
  /** Pass as `before` for the page of older messages; null when there are none. */
  olderCursor: z.string().nullable(),
});
export type TConversation = z.infer<typeof ZConversation>;

export const ZConversationsListInput = ZPageInput.optional();
export type TConversationsListInput = z.infer<typeof ZConversationsListInput>;
export const ZConversationIdInput = z.object({ id: ZId });
export type TConversationIdInput = z.infer<typeof ZConversationIdInput>;
/**
 * A conversation can hold up to 1,000 messages of up to 32,000 characters: a client that
 * shows the latest asks for a page (`limit`), then older ones (`before`: the page's
 * `olderCursor`). Without `limit`, every message.
 */
export const ZConversationGetInput = ZConversationIdInput.extend({
  limit: z.number().int().min(1).max(CHAT_LIMITS.conversationMaxMessages).optional(),
  before: ZId.optional(),
});
export type TConversationGetInput = z.infer<typeof ZConversationGetInput>;

/** A conversation held by a client (an older chat backend's export) to store as it is. */
export const ZConversationImportInput = z.object({
  title: z.string({ error: "title must be a string" }).trim().max(200, "Title is too long (limit 200 characters)").optional(),
  messages: z
    .array(
      z.object({
        role: namedEnum(["system", "user", "assistant"] as const, "role"),
        content: z
          .string({ error: "content must be a string" })
          .max(CHAT_LIMITS.messageMaxChars, `Message is too long (limit ${CHAT_LIMITS.messageMaxChars} characters)`),
      }),
    )
    .min(1, "A conversation needs at least one message")
    .max(CHAT_LIMITS.conversationMaxMessages, `Too many messages (limit ${CHAT_LIMITS.conversationMaxMessages})`),
});
export type TConversationImportInput = z.infer<typeof ZConversationImportInput>;

export const ZConversationImportOutput = z.object({ id: z.string(), title: z.string(), messageCount: z.number().int() });
export type TConversationImportOutput = z.infer<typeof ZConversationImportOutput>;
