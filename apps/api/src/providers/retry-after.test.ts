import { describe, expect, it } from "vitest";
import { MAX_UPSTREAM_WAIT_MS, retryAfterMsOf } from "./retry-after.ts";

const from = (headers: Record<string, string>) => (name: string) => headers[name];

describe("retryAfterMsOf", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  it("reads seconds, milliseconds and HTTP dates", () => {
    expect(retryAfterMsOf(from({ "retry-after": "2" }), now)).toBe(2000);
    expect(retryAfterMsOf(from({ "retry-after-ms": "150", "retry-after": "9" }), now)).toBe(150);
    expect(retryAfterMsOf(from({ "retry-after": "Tue, 01 Jan 2030 00:00:05 GMT" }), now)).toBe(5000);
  });
  it("ignores absent or unusable values", () => {
    expect(retryAfterMsOf(from({}))).toBeUndefined();
    expect(retryAfterMsOf(from({ "retry-after": " " }))).toBeUndefined();
    expect(retryAfterMsOf(from({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMsOf(from({ "retry-after": "-3" }), now)).toBeUndefined();
    expect(retryAfterMsOf(from({ "retry-after-ms": "", "retry-after": "4" }), now)).toBe(4000);
  });
  it("treats a date in the past as no wait", () => {
    expect(retryAfterMsOf(from({ "retry-after": "Mon, 31 Dec 2029 23:59:00 GMT" }), now)).toBe(0);
  });
  it("holds a provider out for an hour at most, however long it asks", () => {
    expect(retryAfterMsOf(from({ "retry-after": "86400" }), now)).toBe(MAX_UPSTREAM_WAIT_MS);
    expect(retryAfterMsOf(from({ "retry-after-ms": "1e25" }), now)).toBe(MAX_UPSTREAM_WAIT_MS);
    expect(retryAfterMsOf(from({ "retry-after": "Fri, 31 Dec 9999 23:59:59 GMT" }), now)).toBe(MAX_UPSTREAM_WAIT_MS);
    expect(retryAfterMsOf(from({ "retry-after": "3599" }), now)).toBe(3_599_000);
  });
});
