import { describe, expect, it } from "vitest";
import { REDACTED, redactSecrets } from "./redact.ts";

describe("redactSecrets", () => {
  it.each([
    ["an API key", "use sb-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefg please"],
    ["a provider key", "my key is sk-proj-abcdefghijklmnop1234"],
    ["a JWT", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
    ["a bearer header", "Authorization: Bearer abcdefghijklmnopqrstuvwxyz"],
    ["an AWS key id", "AKIAIOSFODNN7EXAMPLE"],
    ["a GitHub token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
  ])("removes %s", (_what, text) => {
    const out = redactSecrets(text);
    expect(out).toContain(REDACTED);
    expect(out.length).toBeLessThan(text.length + REDACTED.length);
  });

  it("blanks JSON fields named like secrets and keeps the rest", () => {
    const body = JSON.stringify({ model: "auto", api_key: "hunter2", password: "p4ss\"word", messages: [{ role: "user", content: "hello" }] });
    const out = JSON.parse(redactSecrets(body));
    expect(out).toEqual({ model: "auto", api_key: REDACTED, password: REDACTED, messages: [{ role: "user", content: "hello" }] });
  });

  it("blanks a secret field whose value the body limit cut off, even after a lone backslash", () => {
    expect(redactSecrets('{"model":"auto","api_key":"hunter2-and-mo')).toBe('{"model":"auto","api_key":"[REDACTED]"');
    expect(redactSecrets('{"password":"p4ss\\')).toBe('{"password":"[REDACTED]"');
  });

  it("reads escaped quotes inside values as part of them", () => {
    const body = JSON.stringify({ content: 'say "token": "x"', token: "t-1", note: '\\"' });
    expect(JSON.parse(redactSecrets(body))).toEqual({ content: 'say "token": "x"', token: REDACTED, note: '\\"' });
  });

  it("leaves ordinary text alone", () => {
    expect(redactSecrets("The sky is blue; skip-level meetings are fine.")).toBe("The sky is blue; skip-level meetings are fine.");
  });
});
