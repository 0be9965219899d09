/**
 * The one place that turns configuration into providers: which exist, which are active
 * (configured and listed in PROVIDER_ORDER), and in what order the chain tries them.
 */
import { PROVIDER_IDS, type TProviderId } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import { createOpenAICompatibleProvider } from "../../providers/openai-compatible.ts";
import { createTemplateProvider } from "../../providers/template.ts";
import type { ChatProvider } from "../../providers/types.ts";

export interface ProviderRegistry {
  /** Every known provider: the chain order first, then the rest. */
  all(): ChatProvider[];
  /** Active providers in PROVIDER_ORDER: the fallback chain. */
  chain(): ChatProvider[];
  get(id: TProviderId): ChatProvider;
  isActive(id: TProviderId): boolean;
  /** 0-based position in the chain, or null when not active. */
  orderOf(id: TProviderId): number | null;
}

type ConfigEnv = Pick<
  Env,
  | "BETA_MODEL_BASE_URL" | "BETA_MODEL_API_KEY" | "BETA_MODEL_NAME"
  | "DEEPSEEK_API_KEY" | "DEEPSEEK_BASE_URL" | "DEEPSEEK_MODEL"
  | "OPENAI_API_KEY" | "OPENAI_BASE_URL" | "OPENAI_MODEL"
  | "OLLAMA_BASE_URL" | "OLLAMA_MODEL"
  | "PROVIDER_ORDER"
  | "TEMPLATE_STREAM_DELAY_MS"
>;

/** A provider is active when its URL/key is set (DESIGN.md); the template always is. */
const CONFIGURED: Record<TProviderId, (env: ConfigEnv) => boolean> = {
  beta: (env) => env.BETA_MODEL_BASE_URL !== undefined,
  deepseek: (env) => env.DEEPSEEK_API_KEY !== undefined,
  openai: (env) => env.OPENAI_API_KEY !== undefined,
  ollama: (env) => env.OLLAMA_BASE_URL !== undefined,
  template: () => true,
};

/** Ollama serves the OpenAI protocol under /v1; accept its plain base URL too. */
function ollamaOpenAIUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed.endsWith("/v1") ? trimmed : `${trimmed}/v1`;
}

export function createProviders(env: ConfigEnv): Record<TProviderId, ChatProvider> {
  return {
    beta: createOpenAICompatibleProvider({
      id: "beta",
      baseUrl: env.BETA_MODEL_BASE_URL ?? "http://127.0.0.1:8000/v1",
      apiKey: env.BETA_MODEL_API_KEY,
      model: env.BETA_MODEL_NAME,
      configured: CONFIGURED.beta(env),
    }),
    deepseek: createOpenAICompatibleProvider({
      id: "deepseek",
      baseUrl: env.DEEPSEEK_BASE_URL,
      apiKey: env.DEEPSEEK_API_KEY,
      model: env.DEEPSEEK_MODEL,
      configured: CONFIGURED.deepseek(env),
      structuredOutput: "json_object",
    }),
    openai: createOpenAICompatibleProvider({
      id: "openai",
      baseUrl: env.OPENAI_BASE_URL,
      apiKey: env.OPENAI_API_KEY,
      model: env.OPENAI_MODEL,
      configured: CONFIGURED.openai(env),
    }),
    ollama: createOpenAICompatibleProvider({
      id: "ollama",
      baseUrl: ollamaOpenAIUrl(env.OLLAMA_BASE_URL ?? "http://127.0.0.1:11434"),
      apiKey: undefined,
      model: env.OLLAMA_MODEL,
      configured: CONFIGURED.ollama(env),
    }),
    template: createTemplateProvider({ streamDelayMs: env.TEMPLATE_STREAM_DELAY_MS }),
  };
}

export function createProviderRegistry(env: ConfigEnv, providers = createProviders(env)): ProviderRegistry {
  const chain = env.PROVIDER_ORDER.filter((id, i, order) => order.indexOf(id) === i && providers[id].configured).map(
    (id) => providers[id],
  );
  const all = [...chain, ...PROVIDER_IDS.filter((id) => !chain.some((p) => p.id === id)).map((id) => providers[id])];
  return {
    all: () => all,
    chain: () => chain,
    get: (id) => providers[id],
    isActive: (id) => chain.some((p) => p.id === id),
    orderOf: (id) => {
      const index = chain.findIndex((p) => p.id === id);
      return index === -1 ? null : index;
    },
  };
}
