import { describe, expect, it } from "vitest";
import { ZEmergencyFreezeInput, ZEmergencyUnfreezeInput } from "./emergency.ts";

describe("emergency input schemas", () => {
  it("trims the reason, defaults the scope to global", () => {
    expect(ZEmergencyFreezeInput.parse({ reason: "  costs  " })).toEqual({ reason: "costs", scope: "global" });
  });

  it("refuses a missing, empty, blank, short or overlong reason with a clear message", () => {
    for (const input of [{}, { reason: "" }, { reason: "    " }, { reason: "ab" }, { reason: "x".repeat(501) }, { reason: 42 }]) {
      const result = ZEmergencyFreezeInput.safeParse(input);
      expect(result.success, JSON.stringify(input)).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(["reason"]);
    }
    expect(ZEmergencyFreezeInput.safeParse({}).error?.issues[0]?.message).toBe("A reason is required");
  });

  it("accepts every documented scope, any provider name, and refuses others naming the valid ones", () => {
    for (const scope of ["global", "chat", "consensus", "provider:beta", "provider:deepseek", "provider:openai", "provider:ollama", "provider:template", "provider:anthropic", "provider:groq-eu_1"]) {
      expect(ZEmergencyFreezeInput.parse({ reason: "why not", scope }).scope).toBe(scope);
    }
    for (const scope of ["everything", "provider:", "provider:Bad Name", "provider:-x", "Global", "", 42]) {
      const result = ZEmergencyFreezeInput.safeParse({ reason: "why not", scope });
      expect(result.success, String(scope)).toBe(false);
      expect(result.error?.issues[0]?.message).toContain("provider:<name>");
    }
  });

  it("expiresInSec must be a positive integer", () => {
    expect(ZEmergencyFreezeInput.parse({ reason: "why not", expiresInSec: 60 }).expiresInSec).toBe(60);
    for (const expiresInSec of [0, -1, 1.5, "60"]) {
      expect(ZEmergencyFreezeInput.safeParse({ reason: "why not", expiresInSec }).success, String(expiresInSec)).toBe(false);
    }
  });

  it("unfreeze takes nothing or an optional reason", () => {
    expect(ZEmergencyUnfreezeInput.parse(undefined)).toEqual({});
    expect(ZEmergencyUnfreezeInput.parse({ reason: " fixed " })).toEqual({ reason: "fixed" });
    expect(ZEmergencyUnfreezeInput.safeParse({ reason: "" }).success).toBe(false);
  });
});
