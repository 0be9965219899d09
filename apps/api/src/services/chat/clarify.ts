/**
 * chat.clarify: 1–3 questions that would make a vague request answerable. Models are asked
 * for structured output (a JSON schema); a reply that does not parse moves the chain on, and
 * the template provider, last in the chain, always produces valid questions.
 */
import { CHAT_LIMITS, ZClarifyQuestions, type TClarifyOutput, type TProviderId } from "@switchboard/schema";
import { CLARIFY_FORMAT_NAME } from "../../providers/template.ts";
import type { ChainRequest, ChainResult } from "../gateway/chain-types.ts";

const SYSTEM_PROMPT = [
  "You help users make vague requests precise.",
  `Given the user's request, ask between 1 and ${CHAT_LIMITS.clarifyMaxQuestions} short clarifying questions whose answers would most change the response.`,
  "Do not answer the request itself.",
].join(" ");

/** Kept to the subset of JSON Schema every provider's strict mode accepts; zod checks the rest. */
const CLARIFY_JSON_SCHEMA = {
  type: "object",
  properties: { questions: { type: "array", items: { type: "string" } } },
  required: ["questions"],
  additionalProperties: false,
};

/** Parses and normalises a model's reply; null when it is not usable. */
export function parseClarifyReply(content: string): { questions: string[] } | null {
  let raw: unknown;
  try {
    // Some models wrap JSON in a code fence even in JSON mode.
    raw = JSON.parse(content.trim().replace(/^```(?:json)?\s*|\s*```$/g, ""));
  } catch {
    return null;
  }
  const questions = (raw as { questions?: unknown })?.questions;
  if (!Array.isArray(questions)) return null;
  const cleaned = questions
    .filter((q): q is string => typeof q === "string")
    .map((q) => q.trim())
    .filter((q) => q.length > 0)
    .slice(0, CHAT_LIMITS.clarifyMaxQuestions);
  const parsed = ZClarifyQuestions.safeParse({ questions: cleaned });
  return parsed.success ? parsed.data : null;
}

export async function clarifyWith(
  complete: (request: ChainRequest) => Promise<ChainResult>,
  input: { message: string; provider?: TProviderId | undefined },
  ends: Pick<ChainRequest, "signal" | "onStop" | "scope">,
): Promise<TClarifyOutput> {
  const result = await complete({
    messages: [
      { role: "system", content: SYSTEM_PROMPT },
      { role: "user", content: input.message },
    ],
    responseFormat: { name: CLARIFY_FORMAT_NAME, schema: CLARIFY_JSON_SCHEMA },
    temperature: 0.2,
    maxTokens: 400,
    pinned: input.provider,
    accept: (content) => parseClarifyReply(content) !== null,
    ...ends,
  });
  const { questions } = parseClarifyReply(result.content)!;
  return { questions, provider: result.provider, model: result.model, attempts: result.attempts };
}
