/**
 * What Switchboard accepts of an OpenAI Responses API request (`POST /v1/responses`), the
 * API the Vercel AI SDK's `openai()` provider and the OpenAI Agents SDK use by default. It is
 * served by translation to Chat Completions, so what it takes is what a chat provider can
 * do: messages, function tools and their results, structured output, sampling parameters.
 * Earlier answers are kept for a while, per user, so a request may continue one
 * (`previous_response_id`) or name its output items (`item_reference`, as the Vercel AI SDK
 * does); no response can be retrieved, and what refers to a stored conversation, a stored
 * prompt or a file uploaded to OpenAI is refused by name. Built-in tools (web search, file
 * search, computer use) have no provider behind them and are refused.
 */
import { z } from "zod";
import { CHAT_LIMITS } from "./chat.ts";
import { OPENAI_LIMITS, partsError, partsOf, ZFunctionName } from "./openai.ts";


const ZInputText = z.looseObject({ type: z.literal("input_text"), text: z.string() });
const ZInputImage = z
  .looseObject({ type: z.literal("input_image"), image_url: z.string().min(1).nullable().optional(), detail: z.enum(["low", "high", "auto"]).optional() })
  .refine((p) => typeof p.image_url === "string", {
    message: "an input_image needs image_url (a URL or a data: URL); files uploaded to OpenAI (file_id) are not available through Switchboard",
    path: ["image_url"],
  });
const ZInputFile = z
  .looseObject({ type: z.literal("input_file"), file_data: z.string().min(1).nullable().optional(), filename: z.string().nullable().optional() })
  .refine((p) => typeof p.file_data === "string", {
    message: "an input_file needs file_data; files uploaded to OpenAI (file_id, file_url) are not available through Switchboard",
    path: ["file_data"],
  });
const ZOutputText = z.looseObject({ type: z.literal("output_text"), text: z.string() });
const ZRefusal = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });

const ZInputParts = partsOf(z.discriminatedUnion("type", [ZInputText, ZInputImage, ZInputFile], partsError("input_text, input_image or input_file")));
const ZTextParts = partsOf(z.discriminatedUnion("type", [ZInputText], partsError("input_text")));
const ZOutputParts = partsOf(z.discriminatedUnion("type", [ZOutputText, ZRefusal], partsError("output_text or refusal")));

/** A message. OpenAI lets `type` be left out on messages: the route fills it in before validation. */
const ZMessageItem = z.discriminatedUnion(
  "role",
  [
    z.looseObject({ type: z.literal("message"), role: z.literal("user"), content: z.union([z.string(), ZInputParts]) }),
    z.looseObject({ type: z.literal("message"), role: z.literal(["system", "developer"]), content: z.union([z.string(), ZTextParts]) }),
    z.looseObject({ type: z.literal("message"), role: z.literal("assistant"), content: z.union([z.string(), ZOutputParts]) }),
  ],
  { error: "role must be user, assistant, system or developer" },
);

export const ZResponsesInputItem = z.discriminatedUnion(
  "type",
  [
    ZMessageItem,
    /** A tool call the model made earlier, sent back with its result. */
    z.looseObject({ type: z.literal("function_call"), call_id: z.string().min(1), name: ZFunctionName, arguments: z.string() }),
    z.looseObject({ type: z.literal("function_call_output"), call_id: z.string().min(1), output: z.union([z.string(), ZTextParts]) }),
    /**
     * A model's earlier reasoning: its signed thinking blocks (in `encrypted_content`, as
     * Switchboard gave them) go back with the turn they led to; anything else is skipped.
     */
    z.looseObject({ type: z.literal("reasoning") }),
    /** An output item of an earlier answer, by its id: replaced by the item before translation. */
    z.looseObject({ type: z.literal("item_reference"), id: z.string().min(1).max(200) }),
  ],
  { error: "input items must be messages, function_call, function_call_output, reasoning or item_reference (built-in tool calls are not available through Switchboard)" },
);
export type TResponsesInputItem = z.infer<typeof ZResponsesInputItem>;

export const ZResponsesTool = z.discriminatedUnion(
  "type",
  [
    z.looseObject({
      type: z.literal("function"),
      name: ZFunctionName,
      description: z.string().nullable().optional(),
      parameters: z.record(z.string(), z.unknown()).nullable().optional(),
      strict: z.boolean().nullable().optional(),
    }),
  ],
  { error: "only function tools are available through Switchboard (no built-in web search, file search or computer use)" },
);

const ZResponsesToolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), name: ZFunctionName }),
]);

const ZTextFormat = z.discriminatedUnion(
  "type",
  [
    z.looseObject({ type: z.literal("text") }),
    z.looseObject({ type: z.literal("json_object") }),
    z.looseObject({
      type: z.literal("json_schema"),
      name: z.string().min(1),
      schema: z.record(z.string(), z.unknown()),
      description: z.string().nullable().optional(),
      strict: z.boolean().nullable().optional(),
    }),
  ],
  { error: "text.format must be text, json_object or json_schema" },
);

/** Fields that refer to state Switchboard does not keep: refused when set. */
export const RESPONSES_STATEFUL_FIELDS = ["conversation", "prompt"] as const;

export const ZOpenAIResponsesRequest = z.looseObject({
  model: z.string().trim().min(1, "model is required").max(CHAT_LIMITS.modelNameMaxChars),
  /**
   * A string is one user message: the route turns it into one before validation. Optional, as
   * on OpenAI: a request may answer from previous_response_id or instructions alone (the route
   * refuses one with none of the three).
   */
  input: z
    .array(ZResponsesInputItem)
    .max(CHAT_LIMITS.conversationMaxMessages, `input holds at most ${CHAT_LIMITS.conversationMaxMessages} items`)
    .optional(),
  instructions: z.string().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  tools: z.array(ZResponsesTool).max(OPENAI_LIMITS.maxTools).nullable().optional(),
  tool_choice: ZResponsesToolChoice.nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  text: z.looseObject({ format: ZTextFormat.nullable().optional(), verbosity: z.string().nullable().optional() }).nullable().optional(),
  max_output_tokens: z.number().int().min(1).max(OPENAI_LIMITS.maxOutputTokens).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  reasoning: z.looseObject({ effort: z.string().nullable().optional() }).nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  user: z.string().nullable().optional(),
  store: z.boolean().nullable().optional(),
  /** An earlier answer of the same user, kept a while: the conversation up to it goes before `input`. */
  previous_response_id: z.string().min(1).max(200).nullable().optional(),
  background: z.boolean().nullable().optional(),
  /** "auto": the oldest turns of a previous_response_id conversation that does not fit are dropped. */
  truncation: z.enum(["auto", "disabled"], { error: "truncation must be auto or disabled" }).nullable().optional(),
});
export type TOpenAIResponsesRequest = z.infer<typeof ZOpenAIResponsesRequest>;
