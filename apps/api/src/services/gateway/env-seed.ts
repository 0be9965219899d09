/**
 * What the environment variables (BETA_MODEL_*, DEEPSEEK_*, OPENAI_*, OLLAMA_*,
 * PROVIDER_ORDER) mean as configuration data. Used once, to seed an empty provider table:
 * configured providers keep their PROVIDER_ORDER ids as names, and the `auto` route's
 * targets follow PROVIDER_ORDER.
 */
import { AUTO_MODEL, type TEnvProviderId, type TProviderKind } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import { TEMPLATE_MODEL } from "../../providers/template.ts";

export type SeedEnv = Pick<
  Env,
  | "BETA_MODEL_BASE_URL" | "BETA_MODEL_API_KEY" | "BETA_MODEL_NAME"
  | "DEEPSEEK_API_KEY" | "DEEPSEEK_BASE_URL" | "DEEPSEEK_MODEL"
  | "OPENAI_API_KEY" | "OPENAI_BASE_URL" | "OPENAI_MODEL"
  | "OLLAMA_BASE_URL" | "OLLAMA_MODEL"
  | "PROVIDER_ORDER"
>;

export interface SeedProvider {
  name: TEnvProviderId;
  kind: TProviderKind;
  baseUrl: string | null;
  apiKey: string | undefined;
  model: string;
}

/** The configured providers (URL/key present; the template always), in PROVIDER_ORDER. */
export function seedProviders(env: SeedEnv): SeedProvider[] {
  const known: Record<TEnvProviderId, SeedProvider | null> = {
    beta: env.BETA_MODEL_BASE_URL
      ? { name: "beta", kind: "openai-compatible", baseUrl: env.BETA_MODEL_BASE_URL, apiKey: env.BETA_MODEL_API_KEY, model: env.BETA_MODEL_NAME }
      : null,
    deepseek: env.DEEPSEEK_API_KEY
      ? { name: "deepseek", kind: "openai-compatible", baseUrl: env.DEEPSEEK_BASE_URL, apiKey: env.DEEPSEEK_API_KEY, model: env.DEEPSEEK_MODEL }
      : null,
    openai: env.OPENAI_API_KEY
      ? { name: "openai", kind: "openai-compatible", baseUrl: env.OPENAI_BASE_URL, apiKey: env.OPENAI_API_KEY, model: env.OPENAI_MODEL }
      : null,
    ollama: env.OLLAMA_BASE_URL
      ? { name: "ollama", kind: "ollama", baseUrl: env.OLLAMA_BASE_URL, apiKey: undefined, model: env.OLLAMA_MODEL }
      : null,
    template: { name: "template", kind: "template", baseUrl: null, apiKey: undefined, model: TEMPLATE_MODEL },
  };
  const order = env.PROVIDER_ORDER.filter((id, i, all) => all.indexOf(id) === i);
  const listed = order.map((id) => known[id]).filter((p): p is SeedProvider => p !== null);
  // The template answers when everything else fails, listed in PROVIDER_ORDER or not: it
  // exists as a provider either way, but only joins `auto` when listed.
  if (!listed.some((p) => p.name === "template")) listed.push(known.template!);
  return listed;
}

/** `auto`'s targets: the listed configured providers in PROVIDER_ORDER, no weights. */
export function seedAutoTargets(env: SeedEnv): Array<{ provider: string; upstreamModel: string; weight: null }> {
  return seedProviders(env)
    .filter((p) => env.PROVIDER_ORDER.includes(p.name))
    .map((p) => ({ provider: p.name, upstreamModel: p.model, weight: null }));
}

export { AUTO_MODEL };
