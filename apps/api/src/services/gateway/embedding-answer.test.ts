import { describe, expect, it } from "vitest";
import { CallAbort, classifyFailure } from "./call-outcome.ts";
import { embeddingInputCount, fitEmbeddingAnswer } from "./embedding-answer.ts";

const item = (index: number, embedding: unknown = [0.5, -2]) => ({ object: "embedding", index, embedding });

/** The error fitEmbeddingAnswer throws, or undefined. */
function refusal(data: unknown[], body: Record<string, unknown>) {
  try {
    fitEmbeddingAnswer(data, body);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe("embedding answers", () => {
  it("count a string or one token list as one input, a list of either as its length", () => {
    expect(embeddingInputCount("a")).toBe(1);
    expect(embeddingInputCount([1, 2, 3])).toBe(1);
    expect(embeddingInputCount(["a", "b"])).toBe(2);
    expect(embeddingInputCount([[1], [2], [3]])).toBe(3);
  });

  it("pass one vector per input as they came, in any order", () => {
    const data = [item(1), item(0)];
    expect(fitEmbeddingAnswer(data, { input: ["a", "b"] })).toEqual(data);
    expect(fitEmbeddingAnswer([item(0, "AAAA")], { input: "a", encoding_format: "base64" })).toEqual([item(0, "AAAA")]);
  });

  it("mend what loses nothing: items without an index are taken in order; floats where base64 was asked are encoded as OpenAI does", () => {
    expect(fitEmbeddingAnswer([{ embedding: [1] }, { embedding: [2] }], { input: ["a", "b"] })).toEqual([{ embedding: [1], index: 0 }, { embedding: [2], index: 1 }]);
    const [encoded] = fitEmbeddingAnswer([item(0, [0.5, -2])], { input: "a", encoding_format: "base64" }) as Array<{ embedding: string }>;
    const bytes = Buffer.from(encoded!.embedding, "base64");
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4)]).toEqual([0.5, -2]);
    // And back: base64 where floats were asked (or the format left to its default) is decoded.
    expect(fitEmbeddingAnswer([item(0, encoded!.embedding)], { input: "a" })).toEqual([item(0, [0.5, -2])]);
  });

  it("refuse too few or too many items, an index out of range or twice, and what is no vector", () => {
    expect(refusal([], { input: "a" })?.message).toContain("0 items for 1 input");
    expect(refusal([item(0), item(1)], { input: "a" })?.message).toContain("2 items for 1 input");
    expect(refusal([item(0), item(0)], { input: ["a", "b"] })?.message).toContain("index 0");
    expect(refusal([item(2)], { input: "a" })?.message).toContain("index 2");
    expect(refusal([item(0), { embedding: [1] }], { input: ["a", "b"] })?.message).toContain("index undefined");
    expect(refusal([item(0, "not base64!")], { input: "a" })?.message).toContain("item 0 holds no vector");
    expect(refusal([item(0, "AAA=")], { input: "a" })?.message).toContain("item 0 holds no vector"); // 2 bytes: no float32
    expect(refusal([item(0, [1, "x"])], { input: "a" })?.message).toContain("item 0 holds no vector");
  });

  it("a refusal tries the next provider without counting against this one's circuit (a caller can provoke it)", () => {
    const failure = classifyFailure(refusal([], { input: "a" }), new CallAbort(), false, false);
    expect(failure).toMatchObject({ outcome: "malformed", countsForCircuit: false });
  });
});
