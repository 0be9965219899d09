import { describe, expect, it } from "vitest";
import { retryAfterMsOf } from "./retry-after.ts";

describe("retryAfterMsOf", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  it("reads seconds, milliseconds and HTTP dates", () => {
    expect(retryAfterMsOf(new Headers({ "retry-after": "2" }), now)).toBe(2000);
    expect(retryAfterMsOf(new Headers({ "retry-after-ms": "150", "retry-after": "9" }), now)).toBe(150);
    expect(retryAfterMsOf(new Headers({ "retry-after": "Tue, 01 Jan 2030 00:00:05 GMT" }), now)).toBe(5000);
  });
  it("ignores absent or unusable values", () => {
    expect(retryAfterMsOf(undefined)).toBeUndefined();
    expect(retryAfterMsOf(new Headers())).toBeUndefined();
    expect(retryAfterMsOf(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMsOf(new Headers({ "retry-after": "-3" }), now)).toBeUndefined();
  });
  it("treats a date in the past as no wait", () => {
    expect(retryAfterMsOf(new Headers({ "retry-after": "Mon, 31 Dec 2029 23:59:00 GMT" }), now)).toBe(0);
  });
});
