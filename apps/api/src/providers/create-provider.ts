/**
 * One provider of any kind from its configuration (a provider row, secrets decrypted).
 * Ollama and Azure OpenAI speak the OpenAI protocol with their own URL layout; Anthropic
 * has its own protocol (anthropic.ts); the template needs no upstream.
 */
import type { TProviderKind } from "@switchboard/schema";
import { createAnthropicProvider } from "./anthropic.ts";
import { createOpenAICompatibleProvider } from "./openai-compatible.ts";
import { TEMPLATE_MODEL, createTemplateProvider } from "./template.ts";
import type { ChatProvider } from "./types.ts";

export interface ProviderSettings {
  name: string;
  kind: TProviderKind;
  baseUrl: string | null;
  apiKey: string | undefined;
  headers: Record<string, string>;
  timeoutMs: number | null;
  models: string[];
  apiVersion: string | null;
}

export const DEFAULT_AZURE_API_VERSION = "2024-10-21";

/** Ollama serves the OpenAI protocol under /v1; accept its plain base URL too. */
export function ollamaOpenAIUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed.endsWith("/v1") ? trimmed : `${trimmed}/v1`;
}

/** DeepSeek's API takes `json_object` only; recognised by its host. */
const isDeepSeek = (baseUrl: string) => {
  try {
    return new URL(baseUrl).hostname.endsWith("deepseek.com");
  } catch {
    return false;
  }
};

export function createProvider(settings: ProviderSettings, opts: { templateStreamDelayMs?: number } = {}): ChatProvider {
  const model = settings.models[0] ?? (settings.kind === "template" ? TEMPLATE_MODEL : settings.name);
  const headers = Object.keys(settings.headers).length > 0 ? settings.headers : undefined;
  const timeoutMs = settings.timeoutMs ?? undefined;
  const baseUrl = settings.baseUrl ?? "";
  const common = { id: settings.name, apiKey: settings.apiKey, model, configured: true, timeoutMs, ...(headers ? { headers } : {}) };
  switch (settings.kind) {
    case "template":
      return createTemplateProvider({ id: settings.name, ...(opts.templateStreamDelayMs !== undefined ? { streamDelayMs: opts.templateStreamDelayMs } : {}) });
    case "anthropic":
      return createAnthropicProvider({ ...common, baseUrl });
    case "ollama":
      return createOpenAICompatibleProvider({ ...common, baseUrl: ollamaOpenAIUrl(baseUrl), kind: "ollama", embeddings: true });
    case "azure-openai":
      return createOpenAICompatibleProvider({
        ...common,
        baseUrl,
        kind: "azure-openai",
        azure: { apiVersion: settings.apiVersion ?? DEFAULT_AZURE_API_VERSION },
        embeddings: true,
      });
    default:
      // DeepSeek answers json_object only and offers no embeddings.
      return createOpenAICompatibleProvider({ ...common, baseUrl, ...(isDeepSeek(baseUrl) ? { structuredOutput: "json_object" as const } : { embeddings: true }) });
  }
}
