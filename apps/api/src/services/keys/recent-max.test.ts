import { describe, expect, it } from "vitest";
import { RecentMax } from "./recent-max.ts";

const HOUR = 3600_000;
const at = (hours: number) => Date.UTC(2026, 11, 3) + hours * HOUR;

describe("RecentMax", () => {
  it("is the largest value of the window, and 0 before anything is noted", () => {
    const max = new RecentMax(HOUR, 24);
    expect(max.value(at(0))).toBe(0);
    max.note(2, at(0));
    max.note(5, at(0.5));
    max.note(3, at(1));
    expect(max.value(at(1))).toBe(5);
  });

  it("forgets a value once its slot has left the window, keeping the later ones", () => {
    const max = new RecentMax(HOUR, 24);
    max.note(100, at(0));
    max.note(1, at(10));
    expect(max.value(at(23.9))).toBe(100);
    expect(max.value(at(24))).toBe(1);
  });

  it("keeps the latest figure when nothing was noted within the window, until a newer one is", () => {
    const max = new RecentMax(HOUR, 24);
    max.note(100, at(0));
    max.note(1, at(10));
    expect(max.value(at(40))).toBe(1);
    max.note(7, at(40));
    expect(max.value(at(40))).toBe(7);
  });

  it("keeps a later slot's maximum when a value from a day before it is noted", () => {
    const max = new RecentMax(HOUR, 24);
    max.note(100, at(24));
    max.note(1, at(0));
    expect(max.value(at(24))).toBe(100);
  });

  it("counts a value noted with its own earlier time only until a day after that time", () => {
    const max = new RecentMax(HOUR, 24);
    max.note(50, at(-23));
    max.note(2, at(-20));
    expect(max.value(at(0))).toBe(50);
    expect(max.value(at(1))).toBe(2);
  });

  it("starts a slot afresh when the ring comes round to it", () => {
    const max = new RecentMax(HOUR, 24);
    max.note(100, at(0));
    // 24 hours on, the same ring position holds the new hour: the old maximum must not linger there.
    max.note(2, at(24));
    expect(max.value(at(24))).toBe(2);
  });
});
