import { afterEach, describe, expect, it, vi } from "vitest";
import { createAccessTokens } from "./access-tokens.ts";

const config = { secret: "unit-test-secret-that-is-long-enough-0123456789", issuer: "sb", audience: "sb", ttlSec: 60 };
const claims = { userId: "u1", email: "u1@example.test", role: "ADMIN" as const, sessionId: "s1" };

afterEach(() => vi.useRealTimers());

describe("access tokens", () => {
  it("round-trips the claims, with a millisecond issued-at", async () => {
    const tokens = createAccessTokens(config);
    const before = Date.now();
    const verified = await tokens.verify(await tokens.sign(claims));
    expect(verified).toMatchObject(claims);
    expect(verified!.issuedAtMs).toBeGreaterThanOrEqual(before);
  });

  it("a remembered token still expires on time", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
    const tokens = createAccessTokens(config);
    const token = await tokens.sign(claims);
    expect(await tokens.verify(token)).not.toBeNull();
    expect(await tokens.verify(token)).not.toBeNull(); // served from the cache
    vi.setSystemTime(new Date("2026-01-01T00:01:01Z"));
    expect(await tokens.verify(token)).toBeNull();
  });

  it("never remembers a bad token as good, nor trusts another key's tokens", async () => {
    const tokens = createAccessTokens(config);
    const other = createAccessTokens({ ...config, secret: "a-different-secret-that-is-long-enough-0123" });
    const token = await tokens.sign(claims);
    expect(await other.verify(token)).toBeNull();
    expect(await tokens.verify(`${token}x`)).toBeNull();
    expect(await tokens.verify(token)).not.toBeNull();
  });
});
