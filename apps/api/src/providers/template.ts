/**
 * The `template` provider: offline, deterministic and always available, so every chain ends
 * in an answer and the embedded default works with no model at all. It streams word by word
 * like a real model, yielding to the event loop between words.
 */
import { setImmediate as nextTick, setTimeout as sleep } from "node:timers/promises";
import { ZClarifyQuestions } from "@switchboard/schema";
import { templateClarifyingQuestions, templateReply } from "./template-replies.ts";
import { ProviderError, type ChatProvider, type ProviderChunk, type ProviderCompletion, type ProviderRequest } from "./types.ts";

export const TEMPLATE_MODEL = "switchboard-template-1";
/** Structured-output schemas the template knows how to fill (see chat.clarify). */
export const CLARIFY_FORMAT_NAME = "clarifying_questions";

/** @param opts.streamDelayMs pause between streamed words (TEMPLATE_STREAM_DELAY_MS). */
export function createTemplateProvider(opts: { streamDelayMs?: number; id?: string } = {}): ChatProvider {
  const pause = opts.streamDelayMs ? () => sleep(opts.streamDelayMs) : () => nextTick();
  function reply(request: ProviderRequest): string {
    const unmet = unmetDemand(request.passthrough);
    if (unmet) throw new ProviderError("unsupported", `template cannot ${unmet.what}`, { param: unmet.param });
    if (request.responseFormat) {
      if (request.responseFormat.name !== CLARIFY_FORMAT_NAME) {
        throw new ProviderError("malformed", `template cannot produce ${request.responseFormat.name}`);
      }
      const questions = templateClarifyingQuestions(lastUser(request));
      return JSON.stringify(ZClarifyQuestions.parse({ questions }));
    }
    return templateReply(lastUser(request));
  }

  function usageOf(request: ProviderRequest, pieces: number) {
    const promptChars = request.messages.reduce((n, m) => n + m.content.length, 0);
    return { promptTokens: Math.ceil(promptChars / 4), completionTokens: pieces };
  }

  async function complete(request: ProviderRequest): Promise<ProviderCompletion> {
    if (request.signal.aborted) throw new ProviderError("aborted", "request aborted");
    const content = reply(request);
    return { content, finishReason: "stop", model: TEMPLATE_MODEL, usage: usageOf(request, wordsOf(content).length) };
  }

  async function* stream(request: ProviderRequest): AsyncGenerator<ProviderChunk> {
    const words = wordsOf(reply(request));
    for (const word of words) {
      await pause();
      if (request.signal.aborted) throw new ProviderError("aborted", "request aborted");
      yield { type: "delta", text: word };
    }
    yield { type: "finish", reason: "stop" };
    yield { type: "usage", usage: usageOf(request, words.length) };
  }

  return { id: opts.id ?? "template", kind: "template", model: TEMPLATE_MODEL, configured: true, baseUrl: null, complete, stream };
}

/**
 * What a caller demands that canned prose cannot give (a forced tool call or JSON output),
 * and the request field that demands it.
 * Answering prose anyway would hand an agent a reply it cannot parse; refusing lets the
 * chain report that no provider could serve the request.
 */
function unmetDemand(passthrough: Record<string, unknown> | undefined): { what: string; param: string } | null {
  if (!passthrough) return null;
  const format = (passthrough["response_format"] as { type?: unknown } | null | undefined)?.type;
  if (format === "json_object" || format === "json_schema") return { what: `produce response_format ${format}`, param: "response_format" };
  // One reply per call: n > 1 choices would come back as one, which a caller asking for
  // several cannot tell from a short answer (as an anthropic provider refuses it).
  const n = passthrough["n"];
  if (typeof n === "number" && n > 1) return { what: `return ${n} choices (n > 1)`, param: "n" };
  const choice = passthrough["tool_choice"];
  if (choice === "required" || (typeof choice === "object" && choice !== null)) return { what: "call tools (tool_choice requires a tool call)", param: "tool_choice" };
  return null;
}

function lastUser(request: ProviderRequest): string {
  return request.messages.findLast((m) => m.role === "user")?.content ?? "";
}

/** Words with their trailing whitespace; joined they give back the text exactly. */
export function wordsOf(text: string): string[] {
  return text.split(/(?<=\s)(?=\S)/).filter((w) => w.length > 0);
}
