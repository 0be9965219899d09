import { describe, expect, it } from "vitest";
import { selectHistory, type StoredMessage } from "./history.ts";

const m = (role: string, content: string, status = "complete"): StoredMessage => ({ role, content, status });

describe("selectHistory", () => {
  const newestFirst = [m("assistant", "four"), m("user", "three"), m("assistant", "two"), m("user", "one")];

  it("returns the conversation oldest first within the budget", () => {
    expect(selectHistory(newestFirst, { maxChars: 1000, maxMessages: 10 }).map((x) => x.content)).toEqual(["one", "two", "three", "four"]);
  });

  it("keeps the most recent messages when the character budget is short", () => {
    // "four" + "three" = 9 characters; "two" would make 12.
    expect(selectHistory(newestFirst, { maxChars: 10, maxMessages: 10 }).map((x) => x.content)).toEqual(["three", "four"]);
  });

  it("caps the number of messages", () => {
    expect(selectHistory(newestFirst, { maxChars: 1000, maxMessages: 1 }).map((x) => x.content)).toEqual(["four"]);
  });

  it("skips failed replies but keeps partial ones the user saw", () => {
    const rows = [m("assistant", "", "failed"), m("user", "again"), m("assistant", "half an ans", "incomplete"), m("user", "q")];
    expect(selectHistory(rows, { maxChars: 1000, maxMessages: 10 })).toEqual([
      { role: "user", content: "q" },
      { role: "assistant", content: "half an ans" },
      { role: "user", content: "again" },
    ]);
  });

  it("sends nothing when the budget is zero", () => {
    expect(selectHistory(newestFirst, { maxChars: 0, maxMessages: 10 })).toEqual([]);
  });
});
