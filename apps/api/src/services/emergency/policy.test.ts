import { describe, expect, it } from "vitest";
import { EMERGENCY_SCOPES, type TEmergencyScope, type TEmergencyStatus } from "@switchboard/schema";
import { AppError } from "../errors.ts";
import { DEFAULT_RETRY_AFTER_SEC, inactiveState, isInForce, refusalFor, scopeBlocks, type EmergencyTarget } from "./policy.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");

function frozen(scope: TEmergencyScope, expiresAt: string | null = null): TEmergencyStatus {
  return { active: true, scope, reason: "runaway costs", activatedAt: "2025-12-31T23:59:00.000Z", activatedBy: "root@x.test", expiresAt, version: 7 };
}

const procedure = (path: string): EmergencyTarget => ({ kind: "procedure", path });
const http = (path: string): EmergencyTarget => ({ kind: "http", path });
const provider = (id: string): EmergencyTarget => ({ kind: "provider", id });

describe("scopeBlocks", () => {
  it("never blocks the allowlist, whatever the scope", () => {
    const allowed = ["emergency.status", "emergency.watch", "emergency.unfreeze", "auth.login", "auth.refresh", "auth.logout", "auth.me", "health.check"];
    for (const scope of EMERGENCY_SCOPES) {
      for (const path of allowed) expect(scopeBlocks(scope, procedure(path)), `${scope} ${path}`).toBe(false);
    }
  });

  it("global blocks every other procedure, emergency.freeze and history included", () => {
    for (const path of ["chat.send", "chat.stream", "consensus.query", "users.list", "metrics.summary", "emergency.freeze", "emergency.history"]) {
      expect(scopeBlocks("global", procedure(path)), path).toBe(true);
    }
  });

  it("chat blocks chat.* and /v1 only; consensus blocks consensus.* only", () => {
    expect(scopeBlocks("chat", procedure("chat.send"))).toBe(true);
    expect(scopeBlocks("chat", procedure("chat.conversations.list"))).toBe(true);
    expect(scopeBlocks("chat", procedure("consensus.query"))).toBe(false);
    expect(scopeBlocks("chat", procedure("users.list"))).toBe(false);
    expect(scopeBlocks("chat", http("/v1/chat/completions"))).toBe(true);
    expect(scopeBlocks("chat", http("/v1/models?x=1"))).toBe(true);
    expect(scopeBlocks("chat", http("/api/anything"))).toBe(false);
    expect(scopeBlocks("consensus", procedure("consensus.stream"))).toBe(true);
    expect(scopeBlocks("consensus", procedure("chat.send"))).toBe(false);
    expect(scopeBlocks("consensus", http("/v1/chat/completions"))).toBe(false);
  });

  it("provider scopes block no route, only that provider", () => {
    expect(scopeBlocks("provider:openai", procedure("chat.send"))).toBe(false);
    expect(scopeBlocks("provider:openai", http("/v1/chat/completions"))).toBe(false);
    expect(scopeBlocks("provider:openai", provider("openai"))).toBe(true);
    expect(scopeBlocks("provider:openai", provider("deepseek"))).toBe(false);
    expect(scopeBlocks("global", provider("template"))).toBe(true);
    expect(scopeBlocks("chat", provider("openai"))).toBe(false);
  });

  it("HTTP: guards /v1 and /api except the status and unfreeze aliases; never ops or SPA paths", () => {
    expect(scopeBlocks("global", http("/v1/chat/completions"))).toBe(true);
    expect(scopeBlocks("global", http("/api/admin/emergency/freeze"))).toBe(true);
    expect(scopeBlocks("global", http("/api/admin/emergency/status"))).toBe(false);
    expect(scopeBlocks("global", http("/api/admin/emergency/status/"))).toBe(false);
    expect(scopeBlocks("global", http("/api/admin/emergency/unfreeze?verbose=1"))).toBe(false);
    for (const path of ["/", "/health", "/ready", "/metrics", "/assets/index-abc.js", "/emergency", "/trpc/chat.send", "/v1beta", "/apix"]) {
      expect(scopeBlocks("global", http(path)), path).toBe(false);
    }
  });
});

describe("refusalFor", () => {
  it("is null while not frozen", () => {
    expect(refusalFor(inactiveState(3), procedure("chat.send"), NOW)).toBeNull();
  });

  it("carries EMERGENCY_STOP, the reason, activation and a Retry-After", () => {
    const refusal = refusalFor(frozen("global"), procedure("chat.send"), NOW);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal?.code).toBe("EMERGENCY_STOP");
    expect(refusal?.message).toContain("runaway costs");
    expect(refusal?.details).toMatchObject({ reason: "runaway costs", scope: "global", activatedAt: "2025-12-31T23:59:00.000Z", activatedBy: "root@x.test" });
    expect(refusal?.retryAfterSec).toBe(DEFAULT_RETRY_AFTER_SEC);
  });

  it("Retry-After counts down to the expiry, and an expired freeze no longer refuses", () => {
    const state = frozen("global", new Date(NOW + 12_500).toISOString());
    expect(refusalFor(state, procedure("chat.send"), NOW)?.retryAfterSec).toBe(13);
    expect(isInForce(state, NOW + 12_499)).toBe(true);
    expect(isInForce(state, NOW + 12_500)).toBe(false);
    expect(refusalFor(state, procedure("chat.send"), NOW + 12_500)).toBeNull();
  });
});
