import { describe, expect, it } from "vitest";
import { EMERGENCY_SCOPES, type TEmergencyScope, type TEmergencyStatus, type TRole } from "@switchboard/schema";
import { AppError } from "../errors.ts";
import { DEFAULT_RETRY_AFTER_SEC, FEATURES, inactiveState, isInForce, refusalFor, scopeBlocks, type EmergencyTarget, type Feature } from "./policy.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");

function frozen(scope: TEmergencyScope, expiresAt: string | null = null): TEmergencyStatus {
  return { active: true, scope, reason: "runaway costs", activatedAt: "2025-12-31T23:59:00.000Z", activatedBy: "root@x.test", expiresAt, version: 7 };
}

const feature = (f: Feature, role: TRole | null = null): EmergencyTarget => ({ kind: "feature", feature: f, role });
const provider = (id: string): EmergencyTarget => ({ kind: "provider", id });

describe("scopeBlocks", () => {
  it("never stops auth, ops, the emergency controls or leak containment, whatever the scope", () => {
    for (const scope of EMERGENCY_SCOPES) {
      for (const f of ["auth", "ops", "emergency", "containment"] as const) {
        expect(scopeBlocks(scope, feature(f)), `${scope} ${f}`).toBe(false);
      }
    }
  });

  it("global stops every model-calling and management feature, for every role", () => {
    for (const f of ["chat", "consensus", "gateway", "admin"] as const) {
      for (const role of [null, "USER", "ADMIN", "SUPERADMIN"] as const) expect(scopeBlocks("global", feature(f, role)), `${f} ${role}`).toBe(true);
    }
  });

  it("global leaves read-only observability to ADMIN and above only", () => {
    expect(scopeBlocks("global", feature("admin-read", null))).toBe(true);
    expect(scopeBlocks("global", feature("admin-read", "USER"))).toBe(true);
    expect(scopeBlocks("global", feature("admin-read", "ADMIN"))).toBe(false);
    expect(scopeBlocks("global", feature("admin-read", "SUPERADMIN"))).toBe(false);
  });

  it("chat stops chat and the gateway surface; consensus stops consensus; nothing else", () => {
    expect(scopeBlocks("chat", feature("chat"))).toBe(true);
    expect(scopeBlocks("chat", feature("gateway"))).toBe(true);
    expect(scopeBlocks("chat", feature("consensus"))).toBe(false);
    expect(scopeBlocks("chat", feature("admin"))).toBe(false);
    expect(scopeBlocks("chat", feature("admin-read"))).toBe(false);
    expect(scopeBlocks("consensus", feature("consensus"))).toBe(true);
    expect(scopeBlocks("consensus", feature("chat"))).toBe(false);
    expect(scopeBlocks("consensus", feature("gateway"))).toBe(false);
  });

  it("provider scopes stop no feature, only that provider", () => {
    for (const f of FEATURES) expect(scopeBlocks("provider:openai", feature(f)), f).toBe(false);
    expect(scopeBlocks("provider:openai", provider("openai"))).toBe(true);
    expect(scopeBlocks("provider:openai", provider("deepseek"))).toBe(false);
    expect(scopeBlocks("global", provider("template"))).toBe(true);
    expect(scopeBlocks("chat", provider("openai"))).toBe(false);
  });
});

describe("refusalFor", () => {
  it("is null while not frozen", () => {
    expect(refusalFor(inactiveState(3), feature("chat"), NOW)).toBeNull();
  });

  it("carries EMERGENCY_STOP, the reason, activation and a Retry-After", () => {
    const refusal = refusalFor(frozen("global"), feature("chat"), NOW);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal?.code).toBe("EMERGENCY_STOP");
    expect(refusal?.message).toContain("runaway costs");
    expect(refusal?.details).toMatchObject({ reason: "runaway costs", scope: "global", activatedAt: "2025-12-31T23:59:00.000Z", activatedBy: "root@x.test" });
    expect(refusal?.retryAfterSec).toBe(DEFAULT_RETRY_AFTER_SEC);
  });

  it("Retry-After counts down to the expiry, and an expired freeze no longer refuses", () => {
    const state = frozen("global", new Date(NOW + 12_500).toISOString());
    expect(refusalFor(state, feature("chat"), NOW)?.retryAfterSec).toBe(13);
    expect(isInForce(state, NOW + 12_499)).toBe(true);
    expect(isInForce(state, NOW + 12_500)).toBe(false);
    expect(refusalFor(state, feature("chat"), NOW + 12_500)).toBeNull();
  });
});
