import { describe, expect, it } from "vitest";
import { findInputFlaw, jsonTextMayHoldFlaw, MAX_INPUT_DEPTH } from "./text.ts";

/** Nesting of `levels` arrays around a value: the innermost array sits at depth levels - 1. */
const nested = (levels: number) => "[".repeat(levels) + "1" + "]".repeat(levels);

describe("jsonTextMayHoldFlaw: the one-pass read of a body's text that lets the walk be skipped", () => {
  it("clears ordinary request bodies", () => {
    const body = {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Answer in {JSON} with [brackets] and \"quotes\" inside strings." },
        { role: "user", content: [{ type: "text", text: "émoji 😀 raw, back\\slash, tab\t" }] },
      ],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { a: { type: "string" } } } } }],
    };
    expect(findInputFlaw(body)).toBeNull();
    expect(jsonTextMayHoldFlaw(JSON.stringify(body))).toBe(false);
  });

  it("flags every text whose parsed value the walk refuses: NUL and half pairs, in values and keys, any case of hex", () => {
    for (const text of ['{"a":"x\\u0000y"}', '{"x\\u0000":1}', '["\\ud800"]', '["\\uDC00"]', '{"a":["ok","\\uDbFf"]}']) {
      expect(findInputFlaw(JSON.parse(text)), text).not.toBeNull();
      expect(jsonTextMayHoldFlaw(text), text).toBe(true);
    }
  });

  it("counts nesting as the walk does: 128 levels pass, 129 do not", () => {
    const within = nested(MAX_INPUT_DEPTH);
    const over = nested(MAX_INPUT_DEPTH + 1);
    expect(findInputFlaw(JSON.parse(within))).toBeNull();
    expect(jsonTextMayHoldFlaw(within)).toBe(false);
    expect(findInputFlaw(JSON.parse(over))?.kind).toBe("too_deep");
    expect(jsonTextMayHoldFlaw(over)).toBe(true);
  });

  it("is not fooled by brackets or escaped quotes inside strings", () => {
    // 200 brackets inside a string are text, not nesting.
    const bracketsInText = JSON.stringify({ a: "[".repeat(200), b: '\\"[[[' });
    expect(jsonTextMayHoldFlaw(bracketsInText)).toBe(false);
    // A string ending in an escaped backslash closes at the next quote: the nesting after it counts.
    const afterBackslash = `{"a":"x\\\\","b":${nested(MAX_INPUT_DEPTH + 1)}}`;
    expect(findInputFlaw(JSON.parse(afterBackslash))?.kind).toBe("too_deep");
    expect(jsonTextMayHoldFlaw(afterBackslash)).toBe(true);
    // An escaped quote does not close its string: what follows is still text.
    const escapedQuote = `{"a":"x\\"${"[".repeat(200)}"}`;
    expect(findInputFlaw(JSON.parse(escapedQuote))).toBeNull();
    expect(jsonTextMayHoldFlaw(escapedQuote)).toBe(false);
  });

  it("never clears a text the walk would refuse, over many generated bodies", () => {
    // Strings drawn from pieces that matter to either reading: escapes, quotes, backslashes, brackets, NUL, half pairs.
    const pieces = ["a", "\\", '"', "[", "]", "{", "}", "\u0000", "\ud800", "\udc00", "😀", "u0000", "\\u0000"];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const text = () => Array.from({ length: random(6) }, () => pieces[random(pieces.length)]).join("");
    const value = (depth: number): unknown => {
      const kind = random(depth > 140 ? 2 : 5);
      if (kind === 0) return text();
      if (kind === 1) return random(100);
      if (kind === 2) return Array.from({ length: 1 + random(2) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: 1 + random(2) }, () => [text(), value(depth + 1)]));
    };
    let flagged = 0;
    for (let i = 0; i < 3000; i++) {
      const body = value(0);
      const json = JSON.stringify(body);
      const flaw = findInputFlaw(JSON.parse(json));
      const mayHold = jsonTextMayHoldFlaw(json);
      if (flaw !== null) expect(mayHold, json).toBe(true);
      if (mayHold) flagged++;
    }
    // The pieces make some bodies clean and some not: both branches were exercised.
    expect(flagged).toBeGreaterThan(0);
    expect(flagged).toBeLessThan(3000);
  });
});
