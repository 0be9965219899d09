/**
 * What Switchboard accepts of an Anthropic Messages API request (`POST /v1/messages`), for
 * Anthropic's SDKs and Claude Code pointed at the gateway. It is served by translation to
 * Chat Completions (like the Responses API), so what it takes is what a chat provider can do:
 * text, images, client tools and their results, sampling and stop sequences. Server tools
 * (web search, code execution…) and documents have no provider behind them and are refused by
 * name; fields that only tune Anthropic's own service (top_k, thinking, service_tier…) are
 * accepted and not forwarded, save cache_control, which an Anthropic provider receives.
 * Objects are loose: unknown keys (cache_control among them) survive validation, as new SDK
 * releases add fields.
 */
import { z } from "zod";
import { CHAT_LIMITS } from "./chat.ts";
import { OPENAI_LIMITS, ZFunctionName } from "./openai.ts";

const ZTextBlock = z.looseObject({ type: z.literal("text"), text: z.string() });

/** The image types Anthropic's API takes. */
export const ANTHROPIC_IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"] as const;

const ZImageSource = z.discriminatedUnion(
  "type",
  [
    z.looseObject({
      type: z.literal("base64"),
      media_type: z.enum(ANTHROPIC_IMAGE_TYPES, { error: `media_type must be one of ${ANTHROPIC_IMAGE_TYPES.join(", ")}` }),
      // Checked here, as Anthropic's API does: spliced into a data: URL, anything else made
      // another URL, or a provider's 400 about a request the caller did not write.
      data: z.string().min(1).regex(/^[A-Za-z0-9+/]+={0,2}$/, "data must be base64 (A–Z, a–z, 0–9, +, /, = padding), without a data: prefix"),
    }),
    z.looseObject({ type: z.literal("url"), url: z.string().regex(/^https?:\/\/\S+$/i, "url must be an http or https URL") }),
  ],
  { error: "an image source must be of type base64 (media_type, data) or url; files uploaded to Anthropic (file) are not available through Switchboard" },
);
const ZImageBlock = z.looseObject({ type: z.literal("image"), source: ZImageSource });

const ZToolUseBlock = z.looseObject({ type: z.literal("tool_use"), id: z.string().min(1), name: ZFunctionName, input: z.record(z.string(), z.unknown()) });

const ZToolResultContent = z.union([
  z.string(),
  z
    .array(z.discriminatedUnion("type", [ZTextBlock, ZImageBlock], { error: "tool_result content blocks must be of type text or image" }))
    .max(OPENAI_LIMITS.maxContentPartsPerMessage, `at most ${OPENAI_LIMITS.maxContentPartsPerMessage} content blocks per message`),
]);
const ZToolResultBlock = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: ZToolResultContent.optional(),
  is_error: z.boolean().optional(),
});

/** Earlier extended thinking, sent back with its turn: accepted, and left out (no thinking is asked of providers). */
const ZThinkingBlock = z.looseObject({ type: z.literal(["thinking", "redacted_thinking"]) });

const ZContentBlock = z.discriminatedUnion("type", [ZTextBlock, ZImageBlock, ZToolUseBlock, ZToolResultBlock, ZThinkingBlock], {
  error: "content blocks must be of type text, image, tool_use, tool_result or thinking (documents, search results and server tools are not available through Switchboard)",
});
export type TAnthropicContentBlock = z.infer<typeof ZContentBlock>;

export const ZAnthropicMessage = z.looseObject({
  role: z.enum(["user", "assistant"], { error: "role must be user or assistant" }),
  /**
   * At most OPENAI_LIMITS.maxContentPartsPerMessage blocks, a tool_result's own counted with
   * them, and maxContentParts in all: the routes count them before this schema runs.
   */
  content: z.union([z.string(), z.array(ZContentBlock).max(OPENAI_LIMITS.maxContentPartsPerMessage, `at most ${OPENAI_LIMITS.maxContentPartsPerMessage} content blocks per message`)]),
});
export type TAnthropicMessage = z.infer<typeof ZAnthropicMessage>;

/**
 * A client tool. Anthropic's server tools carry a versioned `type` (web_search_20250305…) and
 * run on Anthropic's side, which no provider behind Switchboard does.
 */
const ZAnthropicTool = z
  .looseObject({
    type: z.string().nullable().optional(),
    name: ZFunctionName,
    description: z.string().optional(),
    input_schema: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((t) => t.type === undefined || t.type === null || t.type === "custom", {
    message: "only client tools (name, description, input_schema) are available through Switchboard; server tools run on Anthropic's side",
    path: ["type"],
  })
  .refine((t) => t.input_schema !== undefined, { message: "a tool needs input_schema", path: ["input_schema"] });

const ZAnthropicToolChoice = z.discriminatedUnion(
  "type",
  [
    z.looseObject({ type: z.literal(["auto", "any"]), disable_parallel_tool_use: z.boolean().optional() }),
    z.looseObject({ type: z.literal("tool"), name: ZFunctionName, disable_parallel_tool_use: z.boolean().optional() }),
    z.looseObject({ type: z.literal("none") }),
  ],
  { error: "tool_choice type must be auto, any, tool (with name) or none" },
);

export const ZAnthropicMessagesRequest = z.looseObject({
  model: z.string().trim().min(1, "model is required").max(CHAT_LIMITS.modelNameMaxChars),
  max_tokens: z.number({ error: (issue) => (issue.input === undefined ? "Field required" : "expected a whole number of tokens") }).int().min(1).max(OPENAI_LIMITS.maxOutputTokens),
  messages: z.array(ZAnthropicMessage).min(1, "messages: at least one message is required").max(CHAT_LIMITS.conversationMaxMessages),
  system: z.union([z.string(), z.array(ZTextBlock).max(OPENAI_LIMITS.maxContentPartsPerMessage, `at most ${OPENAI_LIMITS.maxContentPartsPerMessage} content blocks`)]).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  /** Accepted and not forwarded: no OpenAI-protocol provider takes it. */
  top_k: z.number().int().min(0).optional(),
  /** Forwarded as `stop`: the provider judges how many it takes (OpenAI's API, 4). */
  stop_sequences: z.array(z.string().min(1)).max(64).optional(),
  tools: z.array(ZAnthropicTool).max(OPENAI_LIMITS.maxTools).optional(),
  tool_choice: ZAnthropicToolChoice.optional(),
  metadata: z.looseObject({ user_id: z.string().max(256).nullable().optional() }).optional(),
});
export type TAnthropicMessagesRequest = z.infer<typeof ZAnthropicMessagesRequest>;

/** `POST /v1/messages/count_tokens`: a message request without max_tokens (and nothing to stream). */
export const ZAnthropicCountTokensRequest = ZAnthropicMessagesRequest.omit({ max_tokens: true, stream: true });
export type TAnthropicCountTokensRequest = z.infer<typeof ZAnthropicCountTokensRequest>;
