/**
 * One provider of any kind from its configuration (a provider row, secrets decrypted).
 * Ollama and Azure OpenAI speak the OpenAI protocol with their own URL layout; Anthropic
 * has its own protocol (anthropic.ts); the template needs no upstream.
 */
import type { TProviderKind } from "@switchboard/schema";
import { createAnthropicProvider } from "./anthropic.ts";
import { createOpenAICompatibleProvider } from "./openai-compatible.ts";
import { TEMPLATE_MODEL, createTemplateProvider } from "./template.ts";
import { ProviderError, type ChatProvider } from "./types.ts";

export interface ProviderSettings {
  name: string;
  kind: TProviderKind;
  baseUrl: string | null;
  apiKey: string | undefined;
  headers: Record<string, string>;
  timeoutMs: number | null;
  models: string[];
  apiVersion: string | null;
  /**
   * Stored secrets that could not be decrypted (sealed under another SECRETS_KEY, or a
   * damaged row): the provider is then never called (the registry leaves it out), since a call without them would go out
   * without its key, or without a header that says whose account or tenant it is.
   */
  unreadableSecrets?: readonly UnreadableSecret[] | undefined;
}

export type UnreadableSecret = "apiKey" | "headers";

/** Why a provider whose stored secrets cannot be read is not called, and what to do about it. */
export function unreadableSecretsMessage(name: string, unreadable: readonly UnreadableSecret[]): string {
  const what = unreadable.join(" and ");
  return `${name}: its stored ${what} cannot be decrypted with this SECRETS_KEY (was it changed?): set ${unreadable.length === 1 ? "it" : "them"} again (providers.update)`;
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
  if (settings.unreadableSecrets && settings.unreadableSecrets.length > 0) return unreadableProvider(settings, model, settings.unreadableSecrets);
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

/**
 * A provider whose stored secrets cannot be read. The registry leaves such providers out (they
 * are skipped like an unconfigured one); anything else that builds one still gets a provider
 * that refuses every call before anything is sent, never one that calls without its key.
 */
function unreadableProvider(settings: ProviderSettings, model: string, unreadable: readonly UnreadableSecret[]): ChatProvider {
  const refuse = () => new ProviderError("connection_error", `cannot call upstream: ${unreadableSecretsMessage(settings.name, unreadable)}`);
  return {
    id: settings.name,
    kind: settings.kind,
    model,
    configured: true,
    baseUrl: settings.baseUrl,
    timeoutMs: settings.timeoutMs ?? undefined,
    complete: () => Promise.reject(refuse()),
    async *stream() {
      throw refuse();
    },
  };
}
