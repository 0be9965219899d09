/**
 * Whether a provider's embeddings answer what was asked: one item per input, each index once
 * and in range, each vector a list of numbers (or, asked for `encoding_format: "base64"`, a
 * string). A provider that answered otherwise — fewer items than inputs, an index twice, a
 * vector that is not one — gave a malformed answer, and the chain tries the next provider as
 * it does for a malformed chat answer, instead of passing on a 200 a client would index into.
 */
import { ProviderError } from "../../providers/types.ts";

/** How many inputs an embeddings request holds: a string or one token list is one. */
export function embeddingInputCount(input: unknown): number {
  if (!Array.isArray(input)) return 1;
  return input.every((item) => typeof item === "number") ? 1 : input.length;
}

/** Throws a malformed-answer ProviderError when `data` does not answer `body`'s inputs. */
export function checkEmbeddingAnswer(data: readonly unknown[], body: Record<string, unknown>): void {
  const expected = embeddingInputCount(body["input"]);
  const base64 = body["encoding_format"] === "base64";
  const fail = (why: string) => {
    throw new ProviderError("malformed", `upstream answered embeddings that do not match the request: ${why}`);
  };
  if (data.length !== expected) fail(`${data.length} item${data.length === 1 ? "" : "s"} for ${expected} input${expected === 1 ? "" : "s"}`);
  const seen = new Set<number>();
  for (const item of data) {
    const { index, embedding } = (typeof item === "object" && item !== null ? item : {}) as { index?: unknown; embedding?: unknown };
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= expected || seen.has(index)) fail(`index ${String(index)}`);
    seen.add(index as number);
    const vector = base64 ? typeof embedding === "string" : Array.isArray(embedding) && embedding.every((x) => typeof x === "number" && Number.isFinite(x));
    if (!vector) fail(`item ${String(index)} holds no ${base64 ? "base64 " : ""}vector`);
  }
}
