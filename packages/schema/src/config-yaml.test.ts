import { describe, expect, it } from "vitest";
import { readYamlDocument, writeYamlDocument } from "./config-yaml.ts";

describe("writeYamlDocument", () => {
  it("writes a document that reads back as the same data, keys in the same order", () => {
    // Strings YAML would otherwise read as another type, or as syntax, must come back as strings.
    const tricky = ["null", "~", "true", "1e3", "0x1F", "0o17", ".inf", "", " lead", "a: b", "- e", "# c", "*alias", "&anchor", "!tag", "%x", "@x", "multi\nline\n", "x".repeat(200)];
    const document = {
      providers: [{ name: "groq", kind: "openai-compatible", baseUrl: "https://api.groq.com/openai/v1", apiKey: "${GROQ_API_KEY}", headers: Object.fromEntries(tricky.map((v, i) => [`x-${i}`, v])), models: ["llama-3"], timeoutMs: 30000 }],
      models: [{ name: "auto", targets: [{ provider: "groq", upstreamModel: "llama-3", weight: 3 }], inputPricePerMTok: 0.15, outputPricePerMTok: null }],
    };
    const read = readYamlDocument(writeYamlDocument(document));
    expect(read).toEqual({ value: document });
    // toEqual ignores key order; the file a repository keeps should not reorder on each export.
    expect(JSON.stringify("value" in read ? read.value : null)).toBe(JSON.stringify(document));
  });
});

describe("readYamlDocument", () => {
  it("refuses a merge key where it stands, anywhere in the document; a quoted \"<<\" is a name like any other", () => {
    const merged = "base: &base\n  kind: openai-compatible\nproviders:\n  - name: a\n    <<: *base\nmodels:\n  - { name: m, <<: {targets: []} }\n";
    expect(readYamlDocument(merged)).toEqual({ fault: { line: 5, column: 5, kind: "merge keys are not supported: write the fields out" } });
    expect(readYamlDocument("models:\n  - { name: m, <<: {targets: []} }\n")).toEqual({ fault: { line: 2, column: 16, kind: "merge keys are not supported: write the fields out" } });
    expect(readYamlDocument('providers: []\nmodels: []\n"<<": 1\n')).toEqual({ value: { providers: [], models: [], "<<": 1 } });
  });
});
