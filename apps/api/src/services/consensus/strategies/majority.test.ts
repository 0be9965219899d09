import { describe, expect, it } from "vitest";
import { majority, voteGroups } from "./majority.ts";

const answers = (...contents: string[]) => contents.map((content, i) => ({ provider: `p${i + 1}`, content }));

describe("majority", () => {
  it("three of five agree: their answer wins with agreement 0.6", () => {
    const result = majority(answers("Paris", "Lyon", "paris.", "Marseille", " PARIS "));
    expect(result).toEqual({ content: "Paris", providers: ["p1", "p3", "p5"], agreement: 0.6 });
  });

  it("votes across number formats and keeps the first backer's wording", () => {
    const result = majority(answers("About 1,000", "1000", "1,000.0", "The answer is one thousand"));
    expect(result.providers).toEqual(["p2", "p3", "p4"]);
    expect(result.content).toBe("1000");
    expect(result.agreement).toBe(0.75);
  });

  it("breaks ties by the order the providers were asked, not by arrival", () => {
    expect(majority(answers("red", "blue", "blue", "red"))).toMatchObject({ content: "red", providers: ["p1", "p4"], agreement: 0.5 });
    expect(majority(answers("blue", "red", "red", "blue"))).toMatchObject({ content: "blue", providers: ["p1", "p4"] });
  });

  it("all different: the first provider's answer, agreement 1/n", () => {
    expect(majority(answers("a cat", "a dog", "a cow"))).toEqual({ content: "a cat", providers: ["p1"], agreement: 1 / 3 });
  });

  it("unanimous: agreement 1; one answer: agreement 1", () => {
    expect(majority(answers("Yes", "yes.", "YES")).agreement).toBe(1);
    expect(majority(answers("42"))).toEqual({ content: "42", providers: ["p1"], agreement: 1 });
  });

  it("multiple-choice letters vote as themselves, even the article-like \"A\"", () => {
    expect(majority(answers("A", "B", "a.", "(A)"))).toMatchObject({ content: "A", providers: ["p1", "p3", "p4"], agreement: 0.75 });
  });

  it("refuses an empty list", () => {
    expect(() => majority([])).toThrow(/at least one answer/);
  });

  it("groups are biggest first, equal sizes in order of first appearance", () => {
    const groups = voteGroups(answers("y", "x", "z", "X.", "z"));
    expect(groups.map((g) => [g.key, g.members.map((m) => m.provider)])).toEqual([
      ["x", ["p2", "p4"]],
      ["z", ["p3", "p5"]],
      ["y", ["p1"]],
    ]);
  });
});
