import { describe, expect, it } from "vitest";
import { StreamBody } from "./stream-body.ts";

const fed = (events: unknown[]) => {
  const body = new StreamBody();
  for (const e of events) body.add(e);
  return body.text();
};

describe("StreamBody", () => {
  const start = { type: "chat_start", conversationId: "c", messageId: "m", provider: "beta", model: "beta-1" };

  it("a completed chat or consensus stream is its closing event", () => {
    const complete = { type: "chat_complete", content: "Hello there", usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 }, finishReason: "stop" };
    expect(JSON.parse(fed([start, { type: "chat_delta", delta: "Hello" }, { type: "chat_delta", delta: " there" }, complete])!)).toEqual(complete);
    const run = { type: "consensus_complete", result: { winner: { content: "42", providers: ["a", "b"] } } };
    expect(JSON.parse(fed([{ type: "consensus_start", id: "r" }, { type: "consensus_answer", answer: { provider: "a" } }, run])!)).toEqual(run);
  });

  it("a broken or abandoned stream keeps its start, what was streamed and the error", () => {
    const error = { type: "error", code: "STREAM_INTERRUPTED", message: "cut" };
    expect(JSON.parse(fed([start, { type: "chat_delta", delta: "Hel" }, error])!)).toEqual({ incomplete: true, start, content: "Hel", error });
    expect(JSON.parse(fed([start, { type: "chat_delta", delta: "Hel" }])!)).toEqual({ incomplete: true, start, content: "Hel" });
    const answers = [{ provider: "a", content: "42" }];
    const quorum = { type: "error", code: "QUORUM_NOT_MET", message: "too few" };
    expect(JSON.parse(fed([{ type: "consensus_start", id: "r" }, { type: "consensus_answer", answer: answers[0] }, quorum])!)).toEqual({
      incomplete: true,
      start: { type: "consensus_start", id: "r" },
      answers,
      error: quorum,
    });
    expect(JSON.parse(fed([error])!)).toEqual({ incomplete: true, error });
  });

  it("a stream left before its first event has no body", () => {
    expect(fed([])).toBeUndefined();
  });
});
