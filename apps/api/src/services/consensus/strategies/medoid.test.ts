import { describe, expect, it } from "vitest";
import { meanPairwiseSimilarity, medoid, similarityMatrix } from "./medoid.ts";
import { similarity } from "./similarity.ts";

const answers = (...contents: string[]) => contents.map((content, i) => ({ provider: `p${i + 1}`, content }));

describe("similarity (cosine over word unigrams and bigrams)", () => {
  it("is 1 for the same normalised words and 0 for nothing in common", () => {
    expect(similarity("The capital is Paris.", "the capital is paris")).toBeCloseTo(1, 12);
    expect(similarity("Paris", "Lyon")).toBe(0);
  });

  it("is symmetric and between 0 and 1", () => {
    const a = "Water boils at 100 degrees Celsius at sea level.";
    const b = "At sea level, water boils at one hundred degrees.";
    expect(similarity(a, b)).toBe(similarity(b, a));
    expect(similarity(a, b)).toBeGreaterThan(0.5);
    expect(similarity(a, b)).toBeLessThan(1);
  });

  it("counts word order through bigrams", () => {
    expect(similarity("dog bites man", "man bites dog")).toBeLessThan(similarity("dog bites man", "dog bites man"));
  });

  it("two empty answers are alike; empty and non-empty are not", () => {
    expect(similarity("...", "!!")).toBe(1);
    expect(similarity("...", "Paris")).toBe(0);
  });
});

describe("medoid", () => {
  const paraphrases = answers(
    "Water boils at 100 degrees Celsius at sea level.",
    "At sea level water boils at 100 degrees Celsius.",
    "Water boils at 100 °C at sea level, lower at altitude.",
    "Bananas are a good source of potassium.",
  );

  it("picks the answer closest to all the others and ignores the outlier", () => {
    const result = medoid(paraphrases);
    expect(result.providers).toEqual(["p1"]);
    expect(result.content).toBe("Water boils at 100 degrees Celsius at sea level.");
  });

  it("agreement is the mean pairwise similarity", () => {
    const matrix = similarityMatrix(paraphrases);
    const pairs = [matrix[0]![1]!, matrix[0]![2]!, matrix[0]![3]!, matrix[1]![2]!, matrix[1]![3]!, matrix[2]![3]!];
    expect(medoid(paraphrases).agreement).toBeCloseTo(pairs.reduce((s, v) => s + v, 0) / 6, 12);
    expect(meanPairwiseSimilarity(matrix)).toBeGreaterThan(0.3);
    expect(meanPairwiseSimilarity(matrix)).toBeLessThan(0.7);
  });

  it("identical answers: agreement 1 and every identical provider backs the winner", () => {
    expect(medoid(answers("Paris.", "paris", "PARIS"))).toEqual({ content: "Paris.", providers: ["p1", "p2", "p3"], agreement: 1 });
  });

  it("identical answers of any length agree exactly 1, not a rounding short of it", () => {
    // Term counts whose norm is an irrational root (5 terms for three words: √5·√5 ≠ 5 in floating point).
    for (const text of ["Paris is nice", "a b c d", "The capital of France is Paris, and it has been for centuries.", "yes yes yes no"]) {
      expect(similarity(text, text), text).toBe(1);
      expect(medoid(answers(text, text, text)).agreement, text).toBe(1);
    }
  });

  it("nothing in common: agreement 0, the first provider wins the tie", () => {
    expect(medoid(answers("red", "green", "blue"))).toEqual({ content: "red", providers: ["p1"], agreement: 0 });
  });

  it("one answer: that answer, agreement 1", () => {
    expect(medoid(answers("only me"))).toEqual({ content: "only me", providers: ["p1"], agreement: 1 });
  });
});
