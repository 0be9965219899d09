import { describe, expect, it } from "vitest";
import {
  afterCalls,
  callEnded,
  callStarted,
  holdUntilEnd,
  newScope,
  noteErrorCode,
  noteKey,
  noteUpstreamCall,
  noteUser,
  overheadMs,
  preUpstreamMs,
  rowTags,
  settleBudgetHolds,
  unionLength,
  type RequestScope,
} from "./request-scope.ts";

const call = (provider: string, outcome: string, start: number, end: number, fallback = false) => ({ provider, outcome, fallback, start, end });

describe("request scope", () => {
  it("a request's end waits for its upstream calls to be booked, and runs once", () => {
    const ends: string[] = [];
    const idle = newScope("r", true);
    afterCalls(idle, () => ends.push("idle"));
    expect(ends).toEqual(["idle"]);

    // A client that left mid-stream: the response closed while two calls were still open.
    const busy = newScope("s", true);
    callStarted(busy);
    callStarted(busy);
    afterCalls(busy, () => ends.push("busy"));
    callEnded(busy);
    expect(ends).toEqual(["idle"]);
    callEnded(busy);
    expect(ends).toEqual(["idle", "busy"]);
    callStarted(busy);
    callEnded(busy);
    expect(ends).toEqual(["idle", "busy"]);
  });

  it("a request's budget places are given back once, each budget charged the request's cost once however many calls it admitted", () => {
    const released: Array<[string, number | undefined]> = [];
    const hold = (subject: string) => ({ subject, release: (cost: number | undefined) => void released.push([subject, cost]) });
    const scope = newScope("r", true);
    // A tRPC batch: two calls under the same key and user budgets.
    holdUntilEnd(scope, [hold("user:u"), hold("key:k")]);
    holdUntilEnd(scope, [hold("user:u"), hold("key:k")]);
    holdUntilEnd(scope, []);
    settleBudgetHolds(scope, 0.25);
    expect(released).toEqual([["user:u", 0.25], ["key:k", 0.25], ["user:u", 0], ["key:k", 0]]);
    settleBudgetHolds(scope, 0.25);
    expect(released).toHaveLength(4);
  });

  it("a place taken after the request ended (the client left while it was admitted) is given back at once, unused", () => {
    const released: Array<[string, number | undefined]> = [];
    const scope = newScope("r", true);
    settleBudgetHolds(scope, 0);
    holdUntilEnd(scope, [{ subject: "key:k", release: (cost) => void released.push(["key:k", cost]) }]);
    expect(released).toEqual([["key:k", undefined]]);
    expect(scope.budgetHolds).toBeUndefined();
  });

  it("counts overlapping upstream time once (parallel consensus calls)", () => {
    expect(unionLength([])).toBe(0);
    expect(unionLength([[0, 10], [5, 15], [20, 30], [29, 31], [40, 40]])).toBe(26);
    expect(unionLength([[20, 30], [0, 10]])).toBe(20);
  });

  it("overhead is elapsed time minus upstream time, and an open stream counts as upstream", () => {
    const scope: RequestScope = { ...newScope("r", true, 100), calls: [call("beta", "timeout", 110, 150), call("deepseek", "success", 150, 190)] };
    expect(overheadMs(scope, 200)).toBe(20);
    // Before any call started, everything so far is Switchboard's.
    expect(overheadMs(newScope("r", true, 100), 130)).toBe(30);
    // A stream handed to the chain at 112: the wait after that is upstream's.
    expect(overheadMs({ ...newScope("r", true, 100), upstreamOpenedAt: 112 }, 500)).toBe(12);
    expect(preUpstreamMs(scope)).toBe(10);
    expect(preUpstreamMs(newScope("r", true, 100))).toBeUndefined();
  });

  it("attributes a fallback to the failed provider the request moved on from", () => {
    const scope = newScope("r", true);
    expect(noteUpstreamCall(scope, { provider: "beta", outcome: "http_error", fallback: false, latencyMs: 5 })).toBeUndefined();
    expect(noteUpstreamCall(scope, { provider: "deepseek", outcome: "timeout", fallback: true, latencyMs: 5 })).toBe("beta");
    expect(noteUpstreamCall(scope, { provider: "template", outcome: "success", fallback: true, latencyMs: 1 })).toBe("deepseek");
    noteUser(scope, "u1");
    noteErrorCode(scope, "FIRST");
    noteErrorCode(scope, "SECOND");
    expect(scope.calls.map((c) => c.provider)).toEqual(["beta", "deepseek", "template"]);
    expect(scope.userId).toBe("u1");
    expect(scope.errorCode).toBe("FIRST");
  });

  it("parallel pinned calls (no fallback flag) are not fallbacks", () => {
    const scope = newScope("r", true);
    noteUpstreamCall(scope, { provider: "beta", outcome: "timeout", fallback: false, latencyMs: 5 });
    expect(noteUpstreamCall(scope, { provider: "openai", outcome: "success", fallback: false, latencyMs: 5 })).toBeUndefined();
  });

  it("notes outside a request (no scope) are no-ops", () => {
    expect(noteUpstreamCall(undefined, { provider: "beta", outcome: "success", fallback: false, latencyMs: 1 })).toBeUndefined();
    expect(() => noteUser(undefined, "x")).not.toThrow();
  });
});

describe("a request's tags", () => {
  it("are its key's, then its own, each once; a key resolved again replaces the first's (a socket signing in with another key)", () => {
    const scope = newScope("r1", true);
    scope.tags = ["feature=x", "team:a"];
    noteUser(scope, "u1");
    noteKey(scope, "k1", ["team:a", "env=prod"]);
    expect(rowTags(scope)).toEqual(["team:a", "env=prod", "feature=x"]);
    noteKey(scope, "k2", ["team:b"]);
    expect(rowTags(scope)).toEqual(["team:b", "feature=x", "team:a"]);
    expect(scope.keyId).toBe("k2");
  });

  it("are none while no caller is known", () => {
    const scope = newScope("r2", true);
    scope.tags = ["team:a"];
    expect(rowTags(scope)).toEqual([]);
    noteUser(scope, "u1");
    expect(rowTags(scope)).toEqual(["team:a"]);
  });
});
