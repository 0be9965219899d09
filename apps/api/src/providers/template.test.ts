import { describe, expect, it } from "vitest";
import { ZClarifyQuestions } from "@switchboard/schema";
import { CLARIFY_FORMAT_NAME, createTemplateProvider, wordsOf } from "./template.ts";
import { templateClarifyingQuestions, templateReply } from "./template-replies.ts";
import type { ProviderChunk, ProviderRequest } from "./types.ts";

const template = createTemplateProvider();
const ask = (content: string, extra: Partial<ProviderRequest> = {}): ProviderRequest => ({
  messages: [{ role: "user", content }],
  signal: new AbortController().signal,
  ...extra,
});

describe("template responder", () => {
  it("is deterministic and says it is the offline fallback", async () => {
    const a = await template.complete(ask("Tell me about the weather in Lisbon"));
    const b = await template.complete(ask("Tell me about the weather in Lisbon"));
    expect(a.content).toBe(b.content);
    expect(a.content).toMatch(/offline fallback/i);
    expect(a.model).toBe("switchboard-template-1");
  });

  it("greets back", () => {
    expect(templateReply("Hello!")).toMatch(/^Hello! I'm Switchboard's offline responder/);
  });

  it("turns a question into a plan of steps", () => {
    const reply = templateReply("How do I rotate my database credentials?");
    expect(reply).toContain('You asked: "How do I rotate my database credentials"');
    expect(reply).toMatch(/1\. .+\n2\. .+\n3\. /);
  });

  it("sketches code in the language asked for", () => {
    const reply = templateReply("Write a Python function that parses ISO dates");
    expect(reply).toContain("```python");
    expect(reply).toContain("def parses_iso_dates(data):");
    expect(templateReply("write a function to sum numbers in Go")).toContain("func SumNumbers(input string)");
  });

  it("pulls the opening sentences out of a text to summarise", () => {
    const text = `Summarize: ${"The fleet froze at noon. Operators found the cause. Traffic resumed. Nobody lost data. ".repeat(3)}`;
    const reply = templateReply(text);
    expect(reply).toContain("- The fleet froze at noon.\n- Operators found the cause.\n- Traffic resumed.");
  });

  it("streams word by word, and the words add up to the reply", async () => {
    const request = ask("hi");
    const chunks: ProviderChunk[] = [];
    for await (const chunk of template.stream(request)) chunks.push(chunk);
    const text = chunks.map((c) => (c.type === "delta" ? c.text : "")).join("");
    expect(text).toBe((await template.complete(request)).content);
    expect(chunks.filter((c) => c.type === "delta").length).toBeGreaterThan(10);
    expect(chunks.at(-2)).toEqual({ type: "finish", reason: "stop" });
    expect(chunks.at(-1)?.type).toBe("usage");
  });

  it("stops streaming when aborted", async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of template.stream(ask("hi", { signal: controller.signal }))) {
          if (chunk.type === "delta") seen.push(chunk.text);
          controller.abort();
        }
      })(),
    ).rejects.toMatchObject({ kind: "aborted" });
    expect(seen).toHaveLength(1);
  });

  it("answers the clarify schema with 1–3 valid questions", async () => {
    const result = await template.complete(ask("make it better", { responseFormat: { name: CLARIFY_FORMAT_NAME, schema: {} } }));
    const parsed = ZClarifyQuestions.parse(JSON.parse(result.content));
    expect(parsed.questions.length).toBeGreaterThanOrEqual(1);
    expect(templateClarifyingQuestions("write a script to clean logs")[0]).toMatch(/language/);
    expect(templateClarifyingQuestions("write a python script to clean logs")[0]).not.toMatch(/language/);
  });

  it("keeps every character when splitting into words", () => {
    const text = "a  b\n\n```ts\nconst x = 1;\n```\n";
    expect(wordsOf(text).join("")).toBe(text);
  });
});
