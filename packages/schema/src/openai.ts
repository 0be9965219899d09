/**
 * The subset of OpenAI's chat-completions request that Switchboard honours. Unknown fields
 * are accepted and ignored (SDKs send many), so existing clients work by changing baseURL.
 */
import { z } from "zod";
import { CHAT_LIMITS } from "./chat.ts";

const ZTextPart = z.object({ type: z.literal("text"), text: z.string() });

export const ZOpenAIMessage = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  // Content parts other than text (images, audio) are not supported by every provider.
  content: z.union([z.string(), z.array(ZTextPart)]).nullable().optional(),
  name: z.string().optional(),
});

/** All messages together, as characters: the same budget as a conversation's limit. */
export const OPENAI_MAX_REQUEST_CHARS = CHAT_LIMITS.messageMaxChars * 8;

export const ZOpenAIChatRequest = z.object({
  model: z.string().trim().min(1, "model is required").max(CHAT_LIMITS.modelNameMaxChars),
  messages: z.array(ZOpenAIMessage).min(1, "messages must not be empty").max(CHAT_LIMITS.conversationMaxMessages),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_tokens: z.number().int().min(1).max(CHAT_LIMITS.maxTokens).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).max(CHAT_LIMITS.maxTokens).nullable().optional(),
  n: z.literal(1, "only n=1 is supported").nullable().optional(),
});
export type TOpenAIChatRequest = z.infer<typeof ZOpenAIChatRequest>;
