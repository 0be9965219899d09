import { describe, expect, it } from "vitest";
import { checkEmbeddingAnswer, embeddingInputCount } from "./embedding-answer.ts";

const item = (index: number, embedding: unknown = [0.1, 0.2]) => ({ object: "embedding", index, embedding });

describe("embedding answers", () => {
  it("count a string or one token list as one input, a list of either as its length", () => {
    expect(embeddingInputCount("a")).toBe(1);
    expect(embeddingInputCount([1, 2, 3])).toBe(1);
    expect(embeddingInputCount(["a", "b"])).toBe(2);
    expect(embeddingInputCount([[1], [2], [3]])).toBe(3);
  });

  it("pass one vector per input, in any order", () => {
    expect(() => checkEmbeddingAnswer([item(1), item(0)], { input: ["a", "b"] })).not.toThrow();
    expect(() => checkEmbeddingAnswer([item(0, "AAAA")], { input: "a", encoding_format: "base64" })).not.toThrow();
  });

  it("refuse as malformed too few or too many items, an index out of range or twice, and what is no vector", () => {
    const refused = (data: unknown[], body: Record<string, unknown>) => {
      try {
        checkEmbeddingAnswer(data, body);
        return undefined;
      } catch (error) {
        return error as { kind?: string; message: string };
      }
    };
    expect(refused([], { input: "a" })).toMatchObject({ kind: "malformed", message: expect.stringContaining("0 items for 1 input") });
    expect(refused([item(0), item(1)], { input: "a" })?.message).toContain("2 items for 1 input");
    expect(refused([item(0), item(0)], { input: ["a", "b"] })?.message).toContain("index 0");
    expect(refused([item(2)], { input: "a" })?.message).toContain("index 2");
    expect(refused([{ embedding: [1] }], { input: "a" })?.message).toContain("index undefined");
    expect(refused([item(0, "AAAA")], { input: "a" })?.message).toContain("item 0 holds no vector");
    expect(refused([item(0, [1, "x"])], { input: "a" })?.message).toContain("item 0 holds no vector");
    expect(refused([item(0, [0.1])], { input: "a", encoding_format: "base64" })?.message).toContain("item 0 holds no base64 vector");
  });
});
