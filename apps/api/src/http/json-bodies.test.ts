import { describe, expect, it } from "vitest";
import { charsetOf } from "./json-bodies.ts";

describe("charsetOf", () => {
  it.each([
    ["application/json", undefined],
    ["application/json; charset=utf-8", "utf-8"],
    ["application/json;charset=UTF-8", "utf-8"],
    ['application/json; charset="utf8"', "utf8"],
    ["application/json; charset=", ""],
    ["application/json; version=2; charset=utf-16le", "utf-16le"],
    // A quoted value of another parameter is that value, whatever it holds.
    ['application/json; foo="x;charset=latin1"', undefined],
    ['application/json; foo="a\\"; charset=latin1"; charset=utf-8', "utf-8"],
    // The first charset is the one named.
    ["application/json; charset=utf-8; charset=utf-16", "utf-8"],
  ])("%s → %s", (type, charset) => {
    expect(charsetOf(type)).toBe(charset);
  });
});
