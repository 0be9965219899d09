import { describe, expect, it } from "vitest";
import { roundOrder, roundsWithFirst } from "../bench/round-order.ts";

const TARGETS = ["direct", "floor", "portkey", "embedded", "cluster", "cluster-base"];

describe("bench:peers round order", () => {
  it("measures every target once in every round", () => {
    for (let round = 0; round < 8; round++) expect([...roundOrder(TARGETS, round)].sort()).toEqual([...TARGETS].sort());
  });

  it("puts each target before every other one in half of an even number of rounds", () => {
    for (const rounds of [2, 4, 6]) {
      for (const a of TARGETS) {
        for (const b of TARGETS.filter((t) => t !== a)) expect(roundsWithFirst(TARGETS, rounds, a, b)).toHaveLength(rounds / 2);
      }
    }
  });

  it("swaps a build and its base between consecutive rounds, whatever stands between them", () => {
    const targets = ["direct", "embedded", "floor", "embedded-base"];
    expect(roundsWithFirst(targets, 4, "embedded", "embedded-base")).toEqual([0, 2]);
    expect(roundsWithFirst(targets, 4, "embedded-base", "embedded")).toEqual([1, 3]);
  });

  it("gives a target a different neighbour before it across rounds", () => {
    const before = (round: number) => {
      const order = roundOrder(TARGETS, round);
      return order[order.indexOf("cluster-base") - 1];
    };
    expect(new Set([0, 1, 2, 3].map(before)).size).toBeGreaterThan(1);
  });

  it("leaves a single target alone", () => {
    expect(roundOrder(["direct"], 3)).toEqual(["direct"]);
  });
});
