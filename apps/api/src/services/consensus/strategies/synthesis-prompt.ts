/**
 * The aggregator's instructions for `synthesize`: the "Aggregate-and-Synthesize" prompt of
 * Mixture-of-Agents (Wang et al. 2024, Table 1; "open-source" dropped, one closing line added),
 * followed by the numbered answers. Answers are anonymous on purpose, so the aggregator
 * weighs content, not brand names.
 */
export const AGGREGATE_AND_SYNTHESIZE = [
  "You have been provided with a set of responses from various models to the latest user query.",
  "Your task is to synthesize these responses into a single, high-quality response.",
  "It is crucial to critically evaluate the information provided in these responses, recognizing that some of it may be biased or incorrect.",
  "Your response should not simply replicate the given answers but should offer a refined, accurate, and comprehensive reply to the instruction.",
  "Ensure your response is well-structured, coherent, and adheres to the highest standards of accuracy and reliability.",
  "Reply with the answer only: do not mention the other responses or this process.",
].join(" ");

export interface SynthesisMessage {
  role: "system" | "user";
  content: string;
}

export function synthesisMessages(prompt: string, answers: readonly string[]): SynthesisMessage[] {
  const numbered = answers.map((a, i) => `${i + 1}. ${a.trim()}`).join("\n\n");
  return [
    { role: "system", content: `${AGGREGATE_AND_SYNTHESIZE}\n\nResponses from models:\n\n${numbered}` },
    { role: "user", content: prompt },
  ];
}
