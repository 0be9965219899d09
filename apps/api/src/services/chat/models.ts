/**
 * Model names as clients send them, and which provider (and upstream model) each means.
 * `auto` is the default route; a model route's name (models.upsert) is that route;
 * `deepseek` pins a provider; `deepseek/deepseek-reasoner` pins it with that model; a model a
 * provider serves (e.g. `gpt-4o-mini`) pins that provider, so clients with a hard-coded model
 * keep working.
 */
import type { TProviderId } from "@switchboard/schema";
import { AUTO_MODEL_NAMES } from "../gateway/model-names.ts";
import type { ProviderRegistry } from "../gateway/registry.ts";
import { AppError } from "../errors.ts";

/** Model names that mean "the whole fallback chain" (the `auto` route). */
export const AUTO_MODELS = AUTO_MODEL_NAMES;

export interface ModelChoice {
  pinned?: TProviderId;
  model?: string;
}

/**
 * What a model name means, or undefined when nothing serves it (the caller's transport says
 * so in its own words, pointing at its own model list).
 *
 * A route is never named like a provider, `provider/…` or `switchboard` (model-names.ts), so
 * the first checks below never choose between two meanings; a route named after a model a
 * provider serves does win over that provider, which is how a model name is rerouted.
 */
export function findModel(registry: ProviderRegistry, model: string): ModelChoice | undefined {
  if ((AUTO_MODELS as readonly string[]).includes(model)) return {};
  // A route's name: the chain resolves its targets (see provider-chain.ts).
  if (registry.route(model)) return { model };
  if (registry.isActive(model)) return { pinned: model };
  const slash = model.indexOf("/");
  if (slash > 0) {
    const prefix = model.slice(0, slash);
    if (registry.isActive(prefix)) return { pinned: prefix, model: model.slice(slash + 1) };
  }
  // A model a provider serves (any of its configured models, the `auto` route's providers first).
  const owner = servedModels(registry).find(({ models }) => models.includes(model));
  if (owner) return { pinned: owner.provider, model };
  return undefined;
}

/** Each provider's configured models (the first is its default), the `auto` route's providers first. */
function servedModels(registry: ProviderRegistry): Array<{ provider: TProviderId; models: readonly string[] }> {
  const configured = new Map(registry.snapshot().providers.map((c) => [c.name, c.models]));
  return registry.all().map((p) => {
    const models = configured.get(p.id);
    return { provider: p.id, models: models && models.length > 0 ? models : [p.model] };
  });
}

/**
 * Embedding models: `openai/text-embedding-3-small` pins a provider; a model route's name is
 * that route (the chain tries its targets of one upstream model only); any other name is tried
 * on every active provider that offers embeddings, in chain order. There is no default
 * embedding model, so `auto` alone is refused with a hint, even though it is a route too: its
 * targets are the default chat models, and pointing them at an embedding model would break
 * chat. An embeddings alias is a route of its own.
 */
export function resolveEmbeddingModel(registry: ProviderRegistry, model: string): ModelChoice & { model: string } {
  const slash = model.indexOf("/");
  if (slash > 0) {
    const prefix = model.slice(0, slash);
    if (registry.isActive(prefix)) return { pinned: prefix, model: model.slice(slash + 1) };
  }
  if ((AUTO_MODELS as readonly string[]).includes(model) || registry.isActive(model)) {
    throw new AppError("BAD_REQUEST", "Name an embedding model, e.g. openai/text-embedding-3-small or nomic-embed-text", {
      details: { param: "model" },
    });
  }
  return { model };
}

export interface ModelEntry {
  id: string;
  ownedBy: string;
}

/** Every model name a client may send, as the model list shows them. */
export function listModelEntries(registry: ProviderRegistry): ModelEntry[] {
  return [
    { id: "auto", ownedBy: "switchboard" },
    // Model routes: the names operators publish (models.upsert).
    ...registry
      .routes()
      .filter((r) => !(AUTO_MODELS as readonly string[]).includes(r.name))
      .map((r) => ({ id: r.name, ownedBy: "switchboard" })),
    ...servedModels(registry).flatMap(({ provider, models }) => [
      { id: provider, ownedBy: provider },
      ...models.map((model) => ({ id: `${provider}/${model}`, ownedBy: provider })),
    ]),
  ];
}

/**
 * The model names a caller limited to `allowed` (an API key's model list; empty = any) may
 * send: the listed ones it names, then any other name it names that the gateway serves (a
 * route, a provider's configured model, `switchboard`), under whom it resolves to. So a bare
 * embedding model is listed only when a configured provider's models include it (under that
 * provider) or it is a route: embeddings try any bare name on each provider that offers them,
 * a misspelt one too, so being tried is no sign a model exists, and the list never shows a
 * name nothing serves. A name the key may not send is neither listed nor found, so a client
 * that picks from the list is never refused.
 */
export function listModelEntriesFor(registry: ProviderRegistry, allowed: readonly string[]): ModelEntry[] {
  const entries = listModelEntries(registry);
  if (allowed.length === 0) return entries;
  const named = new Set(allowed);
  const listed = entries.filter((entry) => named.has(entry.id));
  const listedIds = new Set(listed.map((entry) => entry.id));
  const served = [...named].filter((name) => !listedIds.has(name)).flatMap((name) => {
    const choice = findModel(registry, name);
    return choice ? [{ id: name, ownedBy: choice.pinned ?? "switchboard" }] : [];
  });
  return [...listed, ...served];
}
