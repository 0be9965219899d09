/**
 * Streamed tool-call pieces from servers that leave out `index`: each call gets its own, as
 * the OpenAI SDK needs to assemble parallel calls; pieces that carry one are left alone.
 */
import { describe, expect, it } from "vitest";
import { createToolCallIndexer } from "./tool-call-index.ts";
import type { ChoiceChunk } from "./types.ts";

const chunk = (toolCalls: unknown[], index = 0): ChoiceChunk => ({ index, delta: { tool_calls: toolCalls }, finish_reason: null });

/** The indexes the pieces end up with, stream order. */
function indexesOf(chunks: ChoiceChunk[]): unknown[][] {
  const index = createToolCallIndexer();
  for (const c of chunks) index(c);
  return chunks.map((c) => (c.delta.tool_calls as Array<{ index?: unknown }>).map((p) => p.index));
}

describe("tool-call indexes filled in", () => {
  it("a piece with a new id starts the next call; argument pieces continue the one before", () => {
    const chunks = [
      chunk([{ id: "call_a", type: "function", function: { name: "weather", arguments: "" } }]),
      chunk([{ function: { arguments: '{"city":' } }]),
      chunk([{ function: { arguments: '"Paris"}' } }]),
      chunk([{ id: "call_b", type: "function", function: { name: "time", arguments: "{}" } }]),
    ];
    expect(indexesOf(chunks)).toEqual([[0], [0], [0], [1]]);
  });

  it("whole calls side by side in one piece (Gemini's shape) get one index each", () => {
    const chunks = [chunk([{ id: "a", function: { name: "f", arguments: "{}" } }, { id: "b", function: { name: "f", arguments: "{}" } }])];
    expect(indexesOf(chunks)).toEqual([[0, 1]]);
  });

  it("an id or a name repeated on every piece stays the same call; a new name without ids starts one", () => {
    const repeatedId = [chunk([{ id: "a", function: { name: "f", arguments: "{" } }]), chunk([{ id: "a", function: { arguments: "}" } }]), chunk([{ id: "b", function: { name: "g", arguments: "{}" } }])];
    expect(indexesOf(repeatedId)).toEqual([[0], [0], [1]]);
    const namesOnly = [chunk([{ function: { name: "f", arguments: "{" } }]), chunk([{ function: { name: "f", arguments: "}" } }]), chunk([{ function: { name: "g", arguments: "{}" } }])];
    expect(indexesOf(namesOnly)).toEqual([[0], [0], [1]]);
  });

  it("counts calls per choice, and leaves indexes the server sent as they are", () => {
    const chunks = [chunk([{ id: "a", function: { name: "f" } }], 0), chunk([{ id: "b", function: { name: "f" } }], 1), chunk([{ index: 3, id: "c", function: { name: "f" } }], 0), chunk([{ id: "d", function: { name: "f" } }], 0)];
    expect(indexesOf(chunks)).toEqual([[0], [0], [3], [4]]);
  });
});
