/**
 * What Switchboard checks of an OpenAI-compatible request: only what it needs itself (the
 * model to route, the messages' shape, the limits it enforces, well-formed tools). Every
 * other field is accepted as sent and forwarded unchanged to the provider, which is the
 * judge of sampling parameters, response formats and vendor extensions. Objects are loose:
 * unknown keys survive validation.
 */
import { z } from "zod";
import { CHAT_LIMITS } from "./chat.ts";
import { formatCount } from "./counts.ts";

/**
 * All of a request's text together, as characters: the same budget as a conversation's limit.
 * Embeddings keep it; chat and Responses requests take it as the default of the server's
 * OPENAI_MAX_TEXT_CHARS.
 */
export const OPENAI_MAX_REQUEST_CHARS = CHAT_LIMITS.messageMaxChars * 8;

export const OPENAI_LIMITS = {
  /**
   * `n`: choices per request. Each is a full generation, paid upstream, while the gateway's
   * controls count requests: the chat rate limit admits requests, not choices, and a budget
   * overshoots by at most the request admitted last, priced at the day's costliest request
   * (anyone's). OpenAI's 128 would make one request cost 16 times more than here, and that
   * one request would then price every budgeted caller's requests in flight for a day.
   */
  maxChoices: 8,
  maxTools: 128,
  /** Embedding inputs per request, as OpenAI allows. */
  maxEmbeddingInputs: 2048,
  /**
   * `max_tokens` / `max_completion_tokens` / `max_output_tokens`: only a sanity bound. Models
   * differ (some write 64k or 128k tokens), so the provider judges what its model can do.
   */
  maxOutputTokens: 1_048_576,
  /**
   * Content parts in one message (on /v1/messages: content blocks, a tool_result's own blocks
   * counted with its message's). Clients send a few, an agent's tool turn tens, and Anthropic's
   * API takes at most 100 images a request: no real request comes near. What it bounds is
   * work on the event loop: a 20 MB body holds some 700,000 tiny parts, each an object to
   * walk, check and translate, and one such request held the instance for seconds. The
   * routes count parts before anything else reads the body (apps/api http/content-parts.ts).
   */
  maxContentPartsPerMessage: 1_000,
  /** Content parts across a request's messages (and an Anthropic system prompt), for the same reason: 1,000 messages of 1,000 parts would bring the cost back. */
  maxContentParts: 10_000,
  /** Tool calls in one assistant message: models make a few at once; the bound is the event loop's, as for content parts. */
  maxToolCallsPerMessage: 1_000,
} as const;

const ZTextPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const ZImagePart = z.looseObject({ type: z.literal("image_url"), image_url: z.looseObject({ url: z.string().min(1) }) });
const ZAudioPart = z.looseObject({ type: z.literal("input_audio"), input_audio: z.looseObject({ data: z.string(), format: z.string() }) });
const ZFilePart = z.looseObject({ type: z.literal("file"), file: z.looseObject({}) });
const ZRefusalPart = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });

export const partsError = (allowed: string) => ({ error: `content parts must be of type ${allowed}` });
const ZUserPart = z.discriminatedUnion("type", [ZTextPart, ZImagePart, ZAudioPart, ZFilePart], partsError("text, image_url, input_audio or file"));
const ZTextOnly = z.discriminatedUnion("type", [ZTextPart], partsError("text"));
const ZAssistantPart = z.discriminatedUnion("type", [ZTextPart, ZRefusalPart], partsError("text or refusal"));

/**
 * A message's content parts. OpenAI's schema requires at least one (minItems 1, every role):
 * an empty list is refused here rather than forwarded for each provider to judge its own way.
 * The most a message may carry is declared here too; the routes count parts before this runs.
 */
export const partsOf = <Part extends z.ZodType>(part: Part) =>
  z
    .array(part)
    .min(1, "empty array: expected a string or at least one content part")
    .max(OPENAI_LIMITS.maxContentPartsPerMessage, `at most ${OPENAI_LIMITS.maxContentPartsPerMessage} content parts per message`);

/** A function name as OpenAI accepts it. */
export const ZFunctionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1-64 letters, digits, underscores or dashes");

export const ZOpenAIToolCall = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }).optional(),
});

export const ZOpenAIMessage = z.discriminatedUnion(
  "role",
  [
    z.looseObject({ role: z.literal(["system", "developer"]), content: z.union([z.string(), partsOf(ZTextOnly)]) }),
    z.looseObject({ role: z.literal("user"), content: z.union([z.string(), partsOf(ZUserPart)]) }),
    z.looseObject({
      role: z.literal("assistant"),
      content: z.union([z.string(), partsOf(ZAssistantPart)]).nullable().optional(),
      tool_calls: z.array(ZOpenAIToolCall).max(OPENAI_LIMITS.maxToolCallsPerMessage, `too many tool calls (limit ${formatCount(OPENAI_LIMITS.maxToolCallsPerMessage)} per message)`).optional(),
      refusal: z.string().nullable().optional(),
    }),
    z.looseObject({ role: z.literal("tool"), content: z.union([z.string(), partsOf(ZTextOnly)]), tool_call_id: z.string().min(1) }),
  ],
  { error: "role must be system, developer, user, assistant or tool" },
);
export type TOpenAIMessage = z.infer<typeof ZOpenAIMessage>;

/** Function tools are checked; other tool kinds (custom, vendor) are the provider's to judge. */
export const ZOpenAITool = z
  .looseObject({
    type: z.string().min(1),
    function: z
      .looseObject({
        name: ZFunctionName,
        description: z.string().optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      })
      .optional(),
  })
  .refine((t) => t.type !== "function" || t.function !== undefined, { message: "a function tool needs function: {name, parameters?}", path: ["function"] });

const ZToolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z
    .looseObject({ type: z.string().min(1), function: z.looseObject({ name: ZFunctionName }).optional() })
    .refine((c) => c.type !== "function" || c.function !== undefined, { message: "a function tool_choice needs function: {name}", path: ["function"] }),
]);

const ZResponseFormat = z
  .looseObject({
    type: z.string().min(1),
    json_schema: z.looseObject({ name: z.string().min(1), schema: z.record(z.string(), z.unknown()).optional() }).optional(),
  })
  .refine((f) => f.type !== "json_schema" || f.json_schema !== undefined, { message: "json_schema format needs json_schema: {name, schema}", path: ["json_schema"] });

const ZMaxTokens = z.number().int().min(1).max(OPENAI_LIMITS.maxOutputTokens).nullable().optional();

export const ZOpenAIChatRequest = z.looseObject({
  model: z.string().trim().min(1, "model is required").max(CHAT_LIMITS.modelNameMaxChars),
  messages: z.array(ZOpenAIMessage).min(1, "messages must not be empty").max(CHAT_LIMITS.conversationMaxMessages),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_tokens: ZMaxTokens,
  max_completion_tokens: ZMaxTokens,
  n: z.number().int().min(1).max(OPENAI_LIMITS.maxChoices, `n is limited to ${OPENAI_LIMITS.maxChoices}`).nullable().optional(),
  tools: z.array(ZOpenAITool).max(OPENAI_LIMITS.maxTools).nullable().optional(),
  tool_choice: ZToolChoice.nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  response_format: ZResponseFormat.nullable().optional(),
});
export type TOpenAIChatRequest = z.infer<typeof ZOpenAIChatRequest>;

/** No branch of the union says which one the caller meant: one message names every form and the limit. */
const ZEmbeddingInput = z.union(
  [
    z.string(),
    z.array(z.string()).min(1).max(OPENAI_LIMITS.maxEmbeddingInputs),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1).max(OPENAI_LIMITS.maxEmbeddingInputs),
  ],
  {
    error: `input must be a string, an array of 1 to ${OPENAI_LIMITS.maxEmbeddingInputs} strings, an array of token ids, or an array of 1 to ${OPENAI_LIMITS.maxEmbeddingInputs} arrays of token ids (send a larger batch in several requests)`,
  },
);

export const ZOpenAIEmbeddingRequest = z.looseObject({
  model: z.string().trim().min(1, "model is required").max(CHAT_LIMITS.modelNameMaxChars),
  input: ZEmbeddingInput,
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: z.number().int().min(1).optional(),
});
export type TOpenAIEmbeddingRequest = z.infer<typeof ZOpenAIEmbeddingRequest>;
