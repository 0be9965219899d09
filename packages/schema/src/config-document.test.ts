import { describe, expect, it } from "vitest";
import { CONFIG_DOCUMENT_LIMITS, CONFIG_IMPORT_BODY_LIMIT_BYTES, ZConfigDocument } from "./config-document.ts";

/** A provider at the field limits: every model name and header value at its longest. */
const longest = (i: number, headerChars: number) => ({
  name: `p-${i}`,
  kind: "openai-compatible" as const,
  baseUrl: "https://api.example.com/v1",
  apiKey: "k".repeat(4_000),
  headers: Object.fromEntries(Array.from({ length: 32 }, (_, h) => [`x-h-${h}`, "v".repeat(headerChars)])),
  models: Array.from({ length: 200 }, (_, m) => `${m}-`.padEnd(200, "m")),
});

describe("ZConfigDocument's size", () => {
  it("takes a document at every count and name limit, and refuses one past its bytes, which config.import's body holds", () => {
    expect(CONFIG_IMPORT_BODY_LIMIT_BYTES).toBeGreaterThan(CONFIG_DOCUMENT_LIMITS.maxBytes);
    const target = { provider: "p-0", upstreamModel: "u".repeat(200) };
    const models = Array.from({ length: 500 }, (_, r) => ({ name: `route-${r}`, targets: Array.from({ length: 32 }, () => ({ ...target, weight: 1 })) }));
    // Every name at its longest, no secrets (what an export of a full gateway holds): about 14 MB, within the limit.
    const full = { providers: Array.from({ length: 200 }, (_, i) => ({ ...longest(i, 0), apiKey: undefined, headers: undefined })), models };
    expect(ZConfigDocument.safeParse(JSON.parse(JSON.stringify(full))).success).toBe(true);
    // Secrets at their longest too would be tens of MB: refused, naming the limit and what to do.
    const stated = ZConfigDocument.safeParse({ providers: Array.from({ length: 200 }, (_, i) => longest(i, 1_000)), models });
    expect(stated.success).toBe(false);
    expect(stated.error?.issues[0]?.message).toMatch(/^A document is at most 16 MB as JSON; this one is \d+(\.\d{1,2})? MB: apply it in parts \(without prune\)$/);
  });
});
