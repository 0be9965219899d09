/**
 * Streamed choice pieces joined back into whole choices, as the request log and the response
 * cache keep a streamed answer: nothing a piece carried may be lost or doubled.
 */
import { describe, expect, it } from "vitest";
import { ChoiceAssembly } from "./choice-assembly.ts";

const piece = (delta: Record<string, unknown>, finish: string | null = null, index = 0) => ({ index, delta, finish_reason: finish });

describe("choice assembly", () => {
  it("joins text, says the role once, and joins tool calls by index", () => {
    const a = new ChoiceAssembly(1_000);
    a.add(piece({ role: "assistant", content: "Hel" }));
    a.add(piece({ role: "assistant", content: "lo" }));
    a.add(piece({ tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: '{"a"' } }] }));
    a.add(piece({ tool_calls: [{ index: 0, function: { arguments: ":1}" } }, { index: 1, id: "c2", function: { name: "g", arguments: "{}" } }] }, "tool_calls"));
    expect(a.choices()).toEqual([
      {
        index: 0,
        finish_reason: "tool_calls",
        message: {
          role: "assistant",
          content: "Hello",
          tool_calls: [
            { id: "c1", type: "function", function: { name: "f", arguments: '{"a":1}' } },
            { id: "c2", type: "function", function: { name: "g", arguments: "{}" } },
          ],
        },
      },
    ]);
  });

  it("keeps every thinking block of a stream that sends one a piece, and joins audio field by field", () => {
    const a = new ChoiceAssembly(1_000);
    a.add(piece({ thinking_blocks: [{ type: "thinking", thinking: "hmm", signature: "s1" }] }));
    a.add(piece({ thinking_blocks: [{ type: "redacted_thinking", data: "xyz" }] }));
    a.add(piece({ audio: { id: "au_1", data: "AAA", transcript: "Hi" } }));
    a.add(piece({ audio: { data: "BBB", transcript: " there" } }, "stop"));
    expect(a.choices()[0]!.message).toEqual({
      thinking_blocks: [{ type: "thinking", thinking: "hmm", signature: "s1" }, { type: "redacted_thinking", data: "xyz" }],
      audio: { id: "au_1", data: "AAABBB", transcript: "Hi there" },
    });
  });

  it("keeps choices apart by index, and past its bound stops joining text but still takes finish reasons", () => {
    const a = new ChoiceAssembly(5);
    a.add(piece({ content: "one" }, null, 0));
    a.add(piece({ content: "two" }, null, 1));
    expect(a.truncated).toBe(true);
    a.add(piece({ content: "more" }, "length", 0));
    a.add(piece({}, "stop", 1));
    expect(a.choices().map((c) => [c.message.content, c.finish_reason])).toEqual([["one", "length"], ["two", "stop"]]);
  });
});
