import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSecretBox, maskSecret } from "./secrets.ts";

describe("secret box", () => {
  const box = createSecretBox(randomBytes(32));

  it("round-trips and never contains the plaintext", () => {
    const sealed = box.seal("sk-live-0123456789abcdef");
    expect(sealed).not.toContain("sk-live");
    expect(sealed).not.toContain("0123456789abcdef");
    expect(box.open(sealed)).toBe("sk-live-0123456789abcdef");
  });

  it("seals the same value differently each time (random IV)", () => {
    expect(box.seal("x")).not.toBe(box.seal("x"));
  });

  it("refuses a tampered value or another key", () => {
    const sealed = box.seal("secret-value");
    const parts = sealed.split(":");
    parts[3] = Buffer.from("other").toString("base64url");
    expect(() => box.open(parts.join(":"))).toThrow();
    expect(() => createSecretBox(randomBytes(32)).open(sealed)).toThrow();
    expect(() => box.open("plain")).toThrow("not a sealed secret");
  });
});

describe("maskSecret", () => {
  it("shows a vendor prefix and the last four characters only", () => {
    expect(maskSecret("sk-proj-abcdefghijklmnopa1b2")).toBe("sk-…a1b2");
    expect(maskSecret("abcdefghijklmnop")).toBe("…mnop");
    expect(maskSecret("short")).toBe("…");
  });
});
