/**
 * A provider's embeddings as the request asked for them: one item per input, each index once
 * and in range, each vector a list of numbers or, asked for `encoding_format: "base64"`, a
 * string. Two differences that lose nothing are mended: items without an index, as many as the
 * inputs, are taken in order; floats where base64 was asked (a server that ignores the
 * format — the official SDKs ask for base64 by default) are encoded as OpenAI does,
 * little-endian float32, and base64 where floats were asked is decoded. Anything else — fewer or more items than inputs, an index twice,
 * something that is no vector — is a reply not accepted: the chain tries the next provider
 * instead of passing on a 200 a client would index into, without counting it against the
 * provider's circuit (a caller's request can provoke it, and a circuit is everyone's).
 */
import { ReplyNotAccepted } from "./call-outcome.ts";

/** How many inputs an embeddings request holds: a string or one token list is one. */
export function embeddingInputCount(input: unknown): number {
  if (!Array.isArray(input)) return 1;
  return input.every((item) => typeof item === "number") ? 1 : input.length;
}

const isVector = (value: unknown): value is number[] => Array.isArray(value) && value.every((x) => typeof x === "number" && Number.isFinite(x));

/** OpenAI's base64 form of a vector: its float32s, little-endian. */
function base64Vector(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString("base64");
}

/** A base64 vector's floats, or undefined when the text is no whole number of float32s. */
function floatsOf(text: string): number[] | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined;
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

/** `data` as `body` asked for it; throws ReplyNotAccepted when it does not answer the inputs. */
export function fitEmbeddingAnswer(data: readonly unknown[], body: Record<string, unknown>): unknown[] {
  const expected = embeddingInputCount(body["input"]);
  const base64 = body["encoding_format"] === "base64";
  const refuse = (why: string): never => {
    throw new ReplyNotAccepted(`upstream answered embeddings that do not match the request: ${why}`);
  };
  if (data.length !== expected) refuse(`${data.length} item${data.length === 1 ? "" : "s"} for ${expected} input${expected === 1 ? "" : "s"}`);
  const positional = data.every((item) => typeof item === "object" && item !== null && (item as { index?: unknown }).index === undefined);
  const seen = new Set<number>();
  return data.map((item, position) => {
    const fields = (typeof item === "object" && item !== null ? item : {}) as { index?: unknown; embedding?: unknown };
    const index = positional ? position : fields.index;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= expected || seen.has(index)) return refuse(`index ${String(index)}`);
    seen.add(index);
    const { embedding } = fields;
    if (base64 && typeof embedding === "string") return positional ? { ...fields, index } : item;
    if (!base64 && typeof embedding === "string") {
      const floats = floatsOf(embedding);
      return floats && isVector(floats) ? { ...fields, index, embedding: floats } : refuse(`item ${index} holds no vector`);
    }
    if (!isVector(embedding)) return refuse(`item ${index} holds no vector`);
    return base64 || positional ? { ...fields, index, embedding: base64 ? base64Vector(embedding) : embedding } : item;
  });
}
