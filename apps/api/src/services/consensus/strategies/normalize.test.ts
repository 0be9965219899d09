import { describe, expect, it } from "vitest";
import { numberWordsToDigits } from "./number-words.ts";
import { COMPARED_PREFIX_CHARS, canonicalNumber, comparedPrefix, normalizeAnswer } from "./normalize.ts";

describe("normalizeAnswer", () => {
  it.each([
    ["case, whitespace and a full stop", ["Paris", "  paris. ", "PARIS", "Paris!"], "paris"],
    ["articles and punctuation (SQuAD)", ["The Eiffel Tower", "eiffel tower", "Eiffel-Tower."], "eiffel tower"],
    ["quotes and markdown", ['"Paris"', "**Paris**", "`Paris`", "“Paris”"], "paris"],
    ["a lead-in", ["The answer is 42.", "Answer: 42", "Final answer: 42", "So the answer is **42**", "42"], "42"],
    ["thousands separators and decimals", ["1,000", "1000", "1000.0", "1,000.00", "1e3", "1.0E+3", "one thousand"], "1000"],
    ["small number words", ["four", "4", "Four.", "4.0"], "4"],
    ["compound number words", ["twenty-one", "twenty one", "21"], "21"],
    ["accents", ["Zürich", "Zurich", "ZÜRICH"], "zurich"],
    ["percentages", ["50%", "50 %", "50 percent", "fifty percent"], "50%"],
    ["negative numbers", ["-3", "−3", "-3.0"], "-3"],
  ])("equates %s", (_label, variants, expected) => {
    for (const v of variants) expect(normalizeAnswer(v), v).toBe(expected);
  });

  it.each([
    ["1,5", "1 5"], // not a thousands separator: no silent 1.5 or 15
    ["3.14", "3.14"],
    ["version 2.0.1", "version 2.0.1"],
    ["0.50", "0.5"],
    [".5", "0.5"],
    ["007", "7"],
    ["-0", "0"],
    ["abc123", "abc123"],
    ["well-known", "well known"],
  ])("keeps %j apart as %j", (input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });

  it("keeps different answers different", () => {
    const distinct = ["Paris", "Lyon", "Paris, France", "not safe", "safe", "4", "40", "4.5", "yes", "no"];
    expect(new Set(distinct.map(normalizeAnswer)).size).toBe(distinct.length);
  });

  it("is empty for an answer with nothing comparable", () => {
    expect(normalizeAnswer("...")).toBe("");
    expect(normalizeAnswer("   ")).toBe("");
  });
});

describe("the compared prefix", () => {
  // Exactly the prefix: 16,384 four-character words.
  const long = "abc ".repeat(COMPARED_PREFIX_CHARS / 4);
  // Compared by value but reported briefly: a failure should not print 64k characters.
  const same = (a: string, b: string) => normalizeAnswer(a) === normalizeAnswer(b);

  it("compares no more than the prefix: answers differing only after it agree", () => {
    expect(long).toHaveLength(COMPARED_PREFIX_CHARS);
    expect(same(`${long}Paris`, `${long}Lyon`)).toBe(true);
    expect(same(`${long.slice(4)}Paris`, `${long.slice(4)}Lyon`)).toBe(false);
  });

  it("cuts at most that many characters, never half a surrogate pair", () => {
    expect(comparedPrefix(`${long}tail`) === long).toBe(true);
    const emoji = `${"a".repeat(COMPARED_PREFIX_CHARS - 1)}😀tail`;
    expect(comparedPrefix(emoji)).toHaveLength(COMPARED_PREFIX_CHARS - 1);
    expect(comparedPrefix("short")).toBe("short");
  });
});

describe("canonicalNumber", () => {
  it.each([
    [["", "1,234,567", undefined], "1234567"],
    [["+", "5", undefined], "5"],
    [["", "12.5", "2"], "1250"],
    [["", "1.25", "-3"], "0.00125"],
    [["", "125", "-1"], "12.5"],
    [["-", "0.000", undefined], "0"],
    [["", "12345678901234567890", undefined], "12345678901234567890"], // exact: no float rounding
  ] as const)("%j → %s", ([sign, digits, exponent], expected) => {
    expect(canonicalNumber(sign, digits, exponent)).toBe(expected);
  });
});

describe("numberWordsToDigits", () => {
  it.each([
    ["one thousand two hundred and five", "1205"],
    ["two million three hundred thousand and five", "2300005"],
    ["a hundred", "a 100"],
    ["ninety nine bottles", "99 bottles"],
    ["one and only", "1 and only"],
    ["one and two", "1 and 2"], // not one number: each word on its own
    ["two three", "2 3"],
    ["the one", "the 1"],
    ["seventeen", "17"],
  ])("%j → %j", (input, expected) => {
    expect(numberWordsToDigits(input)).toBe(expected);
  });
});
