/**
 * Which variables a configuration document's "${NAME}" may read: the operator's allow list
 * (names and prefixes, from --allow-env and SWITCHBOARD_CONFIG_ENV), never the CLI's own
 * settings, only in a provider's apiKey and header values, and never a value in a message.
 */
import { describe, expect, it } from "vitest";
import { envAllowed, fillPlaceholders, parseEnvAllowance, targetOf } from "./config-placeholders.ts";
import { CommandUsageError } from "./usage-commands.ts";

const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CommandUsageError);
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
};

describe("parseEnvAllowance", () => {
  it("takes every --allow-env and SWITCHBOARD_CONFIG_ENV together, split on commas or spaces", () => {
    expect(parseEnvAllowance(["OPENAI_API_KEY,GROQ_*", "ANTHROPIC_KEY"], { SWITCHBOARD_CONFIG_ENV: " AZURE_* , x_token\nOTHER " })).toEqual([
      "OPENAI_API_KEY",
      "GROQ_*",
      "ANTHROPIC_KEY",
      "AZURE_*",
      "x_token",
      "OTHER",
    ]);
    expect(parseEnvAllowance([], {})).toEqual([]);
    expect(parseEnvAllowance([""], { SWITCHBOARD_CONFIG_ENV: "" })).toEqual([]);
    expect(parseEnvAllowance(["*"], {})).toEqual(["*"]);
  });

  it("refuses an entry that is not a name or a prefix, saying where it came from", () => {
    expect(refusal(() => parseEnvAllowance(["$OPENAI_API_KEY"], {}))).toBe('--allow-env: "$OPENAI_API_KEY" is not a variable name (NAME, or a prefix such as OPENAI_*, optionally bound to a host: NAME@api.example.com)');
    expect(refusal(() => parseEnvAllowance([], { SWITCHBOARD_CONFIG_ENV: "A,${B}" }))).toContain('SWITCHBOARD_CONFIG_ENV: "${B}" is not a variable name');
    for (const entry of ["*_KEY", "OPENAI_*_KEY", "1PASSWORD", "A-B", "**", "A@", "A@b@c", "A@host:99999", "A@ftp://host", "A@https://", "A@host/path", "@host"]) {
      expect(() => parseEnvAllowance([entry], {})).toThrow(CommandUsageError);
    }
    expect(parseEnvAllowance(["OPENAI_API_KEY@api.openai.com,GROQ_*@api.groq.com:443", "LOCAL@[::1]:8080 VLLM@http://vllm.internal:8000"], {})).toEqual([
      "OPENAI_API_KEY@api.openai.com",
      "GROQ_*@api.groq.com:443",
      "LOCAL@[::1]:8080",
      "VLLM@http://vllm.internal:8000",
    ]);
  });
});

describe("envAllowed", () => {
  it("matches a name exactly, case and all", () => {
    expect(envAllowed("OPENAI_API_KEY", ["OPENAI_API_KEY"])).toBe(true);
    expect(envAllowed("OPENAI_API_KEY_2", ["OPENAI_API_KEY"])).toBe(false);
    expect(envAllowed("openai_api_key", ["OPENAI_API_KEY"])).toBe(false);
    expect(envAllowed("OPENAI_API_KEY", [])).toBe(false);
  });

  it("matches a prefix ending in *, and * matches everything", () => {
    expect(envAllowed("OPENAI_API_KEY", ["OPENAI_*"])).toBe(true);
    expect(envAllowed("OPENAI_", ["OPENAI_*"])).toBe(true);
    expect(envAllowed("OPENAIX", ["OPENAI_*"])).toBe(false);
    expect(envAllowed("AWS_SECRET_ACCESS_KEY", ["OPENAI_*", "GROQ_KEY"])).toBe(false);
    expect(envAllowed("AWS_SECRET_ACCESS_KEY", ["*"])).toBe(true);
  });

  it("never allows the CLI's own settings, by name, by prefix or by *", () => {
    for (const allowance of [["*"], ["SWITCHBOARD_*"], ["SWITCH*"], ["SWITCHBOARD_API_KEY"], ["switchboard_api_key"]]) {
      expect(envAllowed("SWITCHBOARD_API_KEY", allowance)).toBe(false);
      expect(envAllowed("switchboard_api_key", allowance)).toBe(false);
    }
    expect(envAllowed("SWITCHBOARDX", ["SWITCH*"])).toBe(true);
  });
});

describe("envAllowed, bound to a host", () => {
  const at = (baseUrl: string) => targetOf(baseUrl);
  it("allows a bound variable only for a provider whose baseUrl is on that host", () => {
    const allowance = ["OPENAI_API_KEY@api.openai.com"];
    expect(envAllowed("OPENAI_API_KEY", allowance, at("https://api.openai.com/v1"))).toBe(true);
    expect(envAllowed("OPENAI_API_KEY", allowance, at("https://API.OpenAI.com:8443/v1"))).toBe(true);
    expect(envAllowed("OPENAI_API_KEY", allowance, at("https://api.openai.com.evil.example/v1"))).toBe(false);
    expect(envAllowed("OPENAI_API_KEY", allowance, at("https://evil.example/v1?api.openai.com"))).toBe(false);
    expect(envAllowed("OPENAI_API_KEY", allowance, null)).toBe(false);
    expect(envAllowed("OPENAI_API_KEY", allowance)).toBe(false);
  });

  it("holds a bound port to that port, the scheme's own when the baseUrl names none", () => {
    expect(envAllowed("K", ["K@localhost:8080"], at("http://localhost:8080/v1"))).toBe(true);
    expect(envAllowed("K", ["K@localhost:8080"], at("http://localhost:9090/v1"))).toBe(false);
    expect(envAllowed("K", ["K@api.example.com:443"], at("https://api.example.com/v1"))).toBe(true);
    expect(envAllowed("K", ["K@api.example.com:443"], at("http://api.example.com/v1"))).toBe(false);
    expect(envAllowed("K", ["K@[::1]:8080"], at("http://[::1]:8080/v1"))).toBe(true);
  });

  it("sends a bound key over https only, unless the host is this machine or the entry says http://", () => {
    expect(envAllowed("K", ["K@api.openai.com"], at("http://api.openai.com/v1"))).toBe(false);
    expect(envAllowed("K", ["K@api.openai.com:80"], at("http://api.openai.com/v1"))).toBe(false);
    expect(envAllowed("K", ["K@https://api.openai.com"], at("https://api.openai.com/v1"))).toBe(true);
    expect(envAllowed("K", ["K@https://api.openai.com"], at("http://api.openai.com/v1"))).toBe(false);
    expect(envAllowed("K", ["K@http://vllm.internal:8000"], at("http://vllm.internal:8000/v1"))).toBe(true);
    expect(envAllowed("K", ["K@http://vllm.internal:8000"], at("https://vllm.internal:8000/v1"))).toBe(false);
    for (const local of ["http://localhost:8080/v1", "http://127.0.0.1:8080/v1", "http://[::1]:8080/v1"]) {
      expect(envAllowed("K", [`K@${new URL(local).host}`], at(local))).toBe(true);
    }
  });

  it("binds prefixes too, and an unbound entry for the same name still allows any host", () => {
    expect(envAllowed("GROQ_KEY", ["GROQ_*@api.groq.com"], at("https://api.groq.com/openai/v1"))).toBe(true);
    expect(envAllowed("GROQ_KEY", ["GROQ_*@api.groq.com"], at("https://example.com/v1"))).toBe(false);
    expect(envAllowed("GROQ_KEY", ["GROQ_*@api.groq.com", "GROQ_KEY"], at("https://example.com/v1"))).toBe(true);
    expect(envAllowed("SWITCHBOARD_API_KEY", ["*@api.openai.com"], at("https://api.openai.com/v1"))).toBe(false);
  });
});

describe("fillPlaceholders", () => {
  const env = { OPENAI_API_KEY: "sk-openai-secret", ORG: "org-1", AWS_SECRET_ACCESS_KEY: "aws-secret", SWITCHBOARD_API_KEY: "sb-own-secret", EMPTY: "" };
  const provider = (extra: Record<string, unknown>) => ({ providers: [{ name: "openai", kind: "openai-compatible", baseUrl: "https://api.openai.com/v1", ...extra }], models: [] });

  it("fills an apiKey and header values from allowed variables, leaving the rest of the document as it is", () => {
    const document = { ...provider({ apiKey: "${OPENAI_API_KEY}", headers: { "x-org": "org ${ORG}", "x-plain": "plain" } }), extra: 1 };
    expect(fillPlaceholders(document, env, ["OPENAI_*", "ORG"])).toEqual({
      ...provider({ apiKey: "sk-openai-secret", headers: { "x-org": "org org-1", "x-plain": "plain" } }),
      extra: 1,
    });
    // Nothing to fill: nothing needs allowing.
    const plain = provider({ apiKey: "sk-literal", headers: { a: "b" } });
    expect(fillPlaceholders(plain, {}, [])).toEqual(plain);
    expect(fillPlaceholders({ providers: "not a list" }, env, [])).toEqual({ providers: "not a list" });
  });

  it("refuses a variable that is not allowed, naming every such placeholder and the flag, never a value", () => {
    const document = provider({ apiKey: "${AWS_SECRET_ACCESS_KEY}", headers: { "x-org": "${ORG}", "x-also": "${AWS_SECRET_ACCESS_KEY}" } });
    const message = refusal(() => fillPlaceholders(document, env, ["OPENAI_*"]));
    expect(message).toBe(
      "providers[0] (openai).apiKey names ${AWS_SECRET_ACCESS_KEY}, providers[0] (openai).headers.x-org names ${ORG}, providers[0] (openai).headers.x-also names ${AWS_SECRET_ACCESS_KEY}, which config apply reads only when allowed: add --allow-env AWS_SECRET_ACCESS_KEY,ORG (or list them in SWITCHBOARD_CONFIG_ENV)",
    );
    expect(message).not.toMatch(/aws-secret|org-1/);
    expect(refusal(() => fillPlaceholders(provider({ apiKey: "${ORG}" }), env, []))).toMatch(/add --allow-env ORG \(or list it in SWITCHBOARD_CONFIG_ENV\)$/);
    // Refused before being read: the answer is the same whether the variable is set or not.
    expect(refusal(() => fillPlaceholders(provider({ apiKey: "${NOT_SET_AT_ALL}" }), env, []))).toContain("names ${NOT_SET_AT_ALL}, which config apply reads only when allowed");
  });

  it("refuses the CLI's own settings even when allowed by name or by *", () => {
    for (const allowance of [["*"], ["SWITCHBOARD_API_KEY"], ["SWITCHBOARD_*"]]) {
      const message = refusal(() => fillPlaceholders(provider({ headers: { "x-leak": "${SWITCHBOARD_API_KEY}" } }), env, allowance));
      expect(message).toBe("providers[0] (openai).headers.x-leak names ${SWITCHBOARD_API_KEY}: the CLI's own settings are never sent to a provider (SWITCHBOARD_*, whatever --allow-env says)");
    }
  });

  it("refuses an allowed variable that is not set (or empty)", () => {
    expect(refusal(() => fillPlaceholders(provider({ apiKey: "${MISSING}" }), env, ["*"]))).toBe("providers[0] (openai).apiKey names ${MISSING}, but $MISSING is not set");
    expect(refusal(() => fillPlaceholders(provider({ apiKey: "${EMPTY}" }), env, ["EMPTY"]))).toBe("providers[0] (openai).apiKey names ${EMPTY}, but $EMPTY is not set");
  });

  it("refuses a placeholder anywhere but a provider's apiKey and header values, allowed or not", () => {
    expect(refusal(() => fillPlaceholders(provider({ baseUrl: "https://${OPENAI_API_KEY}.example.com/v1" }), env, ["*"]))).toBe(
      "providers[0].baseUrl holds ${OPENAI_API_KEY}: placeholders are filled only in a provider's apiKey and header values",
    );
    const route = { providers: [], models: [{ name: "fast", targets: [{ provider: "openai", upstreamModel: "gpt" }, { provider: "openai", upstreamModel: "${AWS_SECRET_ACCESS_KEY}" }] }] };
    expect(refusal(() => fillPlaceholders(route, env, ["*"]))).toBe("models[0].targets[1].upstreamModel holds ${AWS_SECRET_ACCESS_KEY}: placeholders are filled only in a provider's apiKey and header values");
    // The first one in the document is the one named.
    expect(refusal(() => fillPlaceholders(provider({ kind: "${A}", timeoutMs: "${B}" }), env, ["*"]))).toContain("providers[0].kind holds ${A}");
    // A header's name is not a value.
    expect(refusal(() => fillPlaceholders(provider({ headers: { "x-${ORG}": "v" } }), env, ["*"]))).toContain('providers[0].headers."x-${ORG}" holds');
    expect(() => fillPlaceholders(provider({ headers: { "x-${ORG}": "v" } }), env, ["*"])).toThrow();
  });

  it("quotes a name that would break the line (a CI log reads a line as a command)", () => {
    const document = { providers: [{ name: "a\n::add-mask::x", apiKey: "${ORG}" }], models: [] };
    expect(refusal(() => fillPlaceholders(document, env, []))).toContain('providers[0] ("a\\n::add-mask::x").apiKey names ${ORG}');
  });

  it("walks a deeply nested document without running out of stack", () => {
    let deep: unknown = "${ORG}";
    for (let i = 0; i < 50_000; i++) deep = [deep];
    expect(refusal(() => fillPlaceholders({ providers: [], models: deep }, env, ["*"]))).toMatch(/^models(\[0\])+ holds \$\{ORG\}/);
  });
  it("fills a bound variable where the provider points at its host, and refuses it, naming the host, where a document moved the provider", () => {
    const allowance = ["OPENAI_API_KEY@api.openai.com"];
    expect(fillPlaceholders(provider({ apiKey: "${OPENAI_API_KEY}" }), env, allowance)).toEqual(provider({ apiKey: "sk-openai-secret" }));
    const moved = provider({ baseUrl: "https://collector.evil.example/v1", headers: { authorization: "Bearer ${OPENAI_API_KEY}" } });
    const message = refusal(() => fillPlaceholders(moved, env, allowance));
    expect(message).toBe(
      "providers[0] (openai).headers.authorization names ${OPENAI_API_KEY}, which is allowed only for api.openai.com, and providers[0] (openai) points at https://collector.evil.example: if the key belongs there, allow it for that host too",
    );
    expect(message).not.toContain("sk-openai-secret");
    // No baseUrl to say where it goes: a bound entry cannot be checked, so it does not allow.
    const nowhere = { providers: [{ name: "openai", kind: "openai-compatible", apiKey: "${OPENAI_API_KEY}" }], models: [] };
    expect(refusal(() => fillPlaceholders(nowhere, env, allowance))).toContain("providers[0] (openai) gives no baseUrl that says where it is sent");
  });
});
