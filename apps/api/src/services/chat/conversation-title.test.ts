import { describe, expect, it } from "vitest";
import { conversationTitle, TITLE_MAX } from "./conversation-title.ts";

describe("conversationTitle", () => {
  it("puts the question on one line and keeps a short one whole", () => {
    expect(conversationTitle("  What is\n\tthe  weather?  ")).toBe("What is the weather?");
  });

  it("never splits an emoji at the cut, as a cut by UTF-16 units did", () => {
    const text = `${"a".repeat(TITLE_MAX - 1)}😀 and more`;
    const title = conversationTitle(text);
    expect(title).toBe(`${"a".repeat(TITLE_MAX - 1)}😀`);
    expect(title).not.toMatch(/\p{Cs}/u); // no half of a surrogate pair
  });

  it("counts a family emoji or an accented letter as one character, kept whole or left out", () => {
    const family = "👨‍👩‍👧";
    expect(conversationTitle(`${family.repeat(TITLE_MAX)}x`)).toBe(family.repeat(TITLE_MAX));
    const accented = "e\u0301";
    expect(conversationTitle(`${"b".repeat(TITLE_MAX - 1)}${accented}${accented}`)).toBe(`${"b".repeat(TITLE_MAX - 1)}${accented}`);
  });
});
