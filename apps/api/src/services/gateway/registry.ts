/**
 * The live set of providers and model routes. Built from a configuration snapshot (the
 * database's, or the environment's in unit tests) and replaced whole by `apply` when the
 * configuration changes: readers always see one consistent version, and requests already
 * running keep the provider objects they started with, so a change never fails them.
 */
import { AUTO_MODEL, type TProviderId } from "@switchboard/schema";
import type { Env } from "../../env.ts";
import { createProvider, type ProviderSettings } from "../../providers/create-provider.ts";
import type { ChatProvider } from "../../providers/types.ts";
import type { GatewaySnapshot, ModelPrice, ProviderConfig, RouteConfig } from "./config-types.ts";
import { seedAutoTargets, seedProviders, type SeedEnv } from "./env-seed.ts";

export interface LiveTarget {
  provider: ChatProvider;
  upstreamModel: string;
  /** Share of traffic among healthy weighted targets; null = fallback only. */
  weight: number | null;
  /** The route whose prices a call to this target is billed at (see `pricedAs`). */
  pricedAs: string | undefined;
}

export interface LiveRoute {
  name: string;
  targets: LiveTarget[];
  price: ModelPrice | null;
  /** Seconds its requests' answers are kept in the response cache without asking; null = only when asked. */
  cacheTtlSec: number | null;
}

export interface ProviderRegistry {
  /** The configuration version this registry holds. */
  version(): number;
  /** Every provider: the `auto` route's first, then the rest in their listed order. */
  all(): ChatProvider[];
  /** The `auto` route's providers in order: the default fallback chain. */
  chain(): ChatProvider[];
  get(id: TProviderId): ChatProvider | undefined;
  /** True when a provider of this name exists and can be called (its secrets could be read). */
  isActive(id: TProviderId): boolean;
  /** 0-based position in the `auto` route, or null when not in it. */
  orderOf(id: TProviderId): number | null;
  route(name: string): LiveRoute | undefined;
  /** The route whose targets serve a request for `model` that pins no provider: the route of that name, else `auto`. */
  servingRoute(model: string | undefined): LiveRoute | undefined;
  routes(): LiveRoute[];
  /** A model's price (USD per million tokens), or null when the model has none set. Synchronous, no I/O. */
  priceOf(model: string): ModelPrice | null;
  /**
   * The priced route a call made outside any route (pinned to a provider, or with the client's
   * own model name) is billed at: the dearest priced route that sends `provider` this upstream
   * model, else a priced route named after the model, else `auto` (the default price) when it
   * is priced and `orDefault` (not for embeddings: `auto` holds chat prices); undefined when
   * none of these is.
   */
  pricedAs(provider: TProviderId, upstreamModel: string, orDefault?: boolean): string | undefined;
  /**
   * The priced route a call to `provider`'s `upstreamModel` made for `route` is billed at: that
   * route when it has prices, else as if called directly (`pricedAs`). The provider chain's
   * billing rule, and what a response-cache hit is priced at.
   */
  billedAs(route: LiveRoute | undefined, provider: TProviderId, upstreamModel: string): string | undefined;
  /** The snapshot as loaded (secrets included: for the gateway's own use only). */
  snapshot(): GatewaySnapshot;
  /** Swaps in a newer configuration; an older or equal version is ignored. Returns whether it applied. */
  apply(snapshot: GatewaySnapshot): boolean;
}

interface Built {
  snapshot: GatewaySnapshot;
  byName: Map<string, ChatProvider>;
  all: ChatProvider[];
  chain: ChatProvider[];
  routes: Map<string, LiveRoute>;
  /** "provider\0upstream model" → the dearest priced route with that target. */
  pricedTargets: Map<string, string>;
}

const targetKey = (provider: string, upstreamModel: string) => `${provider}\0${upstreamModel}`;

/** What a million tokens in and a million out cost: how two prices of one target are ranked. */
const weightOf = (p: ModelPrice) => p.inputPerMTok + p.outputPerMTok;

function pricedAsIn(built: Pick<Built, "routes" | "pricedTargets">, provider: string, upstreamModel: string, orDefault = true): string | undefined {
  const named = (name: string) => (built.routes.get(name)?.price ? name : undefined);
  return built.pricedTargets.get(targetKey(provider, upstreamModel)) ?? named(upstreamModel) ?? (orDefault ? named(AUTO_MODEL) : undefined);
}

function billedAsIn(built: Pick<Built, "routes" | "pricedTargets">, route: LiveRoute | undefined, provider: string, upstreamModel: string): string | undefined {
  return route?.price ? route.name : pricedAsIn(built, provider, upstreamModel);
}

const settingsKey = (p: ProviderConfig) =>
  JSON.stringify([p.name, p.kind, p.baseUrl, p.apiKey ?? null, p.headers, p.timeoutMs, p.models, p.apiVersion, p.unreadableSecrets ?? []]);

function priceOfRoute(r: RouteConfig): ModelPrice | null {
  if (r.inputPricePerMTok === null && r.outputPricePerMTok === null && r.cachedInputPricePerMTok === null) return null;
  return { inputPerMTok: r.inputPricePerMTok ?? 0, outputPerMTok: r.outputPricePerMTok ?? 0, cachedInputPerMTok: r.cachedInputPricePerMTok };
}

export function createLiveRegistry(
  initial: GatewaySnapshot,
  opts: { templateStreamDelayMs?: number; make?: (config: ProviderConfig) => ChatProvider } = {},
): ProviderRegistry {
  const make = opts.make ?? ((config: ProviderConfig) => createProvider(config as ProviderSettings, opts));
  // Provider objects (and their HTTP clients' kept-alive connections) survive a change
  // that does not touch their own settings.
  let made = new Map<string, { key: string; provider: ChatProvider }>();

  function build(snapshot: GatewaySnapshot): Built {
    const nextMade = new Map<string, { key: string; provider: ChatProvider }>();
    const byName = new Map<string, ChatProvider>();
    for (const config of snapshot.providers) {
      // Secrets this SECRETS_KEY cannot decrypt: left out like a provider not configured, so it
      // is never called (nothing goes out without its key or headers), never counted failing by
      // the circuit or metrics, and never in a default set (consensus' quorum). Its listing
      // and health (from the snapshot) say why.
      if (config.unreadableSecrets?.length) continue;
      const key = settingsKey(config);
      const reused = made.get(config.id);
      const provider = reused?.key === key ? reused.provider : make(config);
      nextMade.set(config.id, { key, provider });
      byName.set(config.name, provider);
    }
    made = nextMade;
    // Two priced routes sending one provider the same model: the dearer one bills calls made
    // outside them (a budget errs on the side of spending less).
    const pricedTargets = new Map<string, string>();
    const priceOfTarget = new Map<string, number>();
    for (const r of snapshot.routes) {
      const price = priceOfRoute(r);
      if (!price) continue;
      for (const t of r.targets) {
        const key = targetKey(t.provider, t.upstreamModel);
        if ((priceOfTarget.get(key) ?? -1) >= weightOf(price)) continue;
        pricedTargets.set(key, r.name);
        priceOfTarget.set(key, weightOf(price));
      }
    }
    const routes = new Map<string, LiveRoute>();
    for (const r of snapshot.routes) routes.set(r.name, { name: r.name, targets: [], price: priceOfRoute(r), cacheTtlSec: r.cacheTtlSec });
    for (const r of snapshot.routes) {
      const route = routes.get(r.name)!;
      route.targets = r.targets.flatMap((t) => {
        const provider = byName.get(t.provider);
        const pricedAs = billedAsIn({ routes, pricedTargets }, route, t.provider, t.upstreamModel);
        return provider ? [{ provider, upstreamModel: t.upstreamModel, weight: t.weight, pricedAs }] : [];
      });
    }
    const chain = [...new Set((routes.get(AUTO_MODEL)?.targets ?? []).map((t) => t.provider))];
    const all = [...chain, ...[...byName.values()].filter((p) => !chain.includes(p))];
    return { snapshot, byName, all, chain, routes, pricedTargets };
  }

  let current = build(initial);

  return {
    version: () => current.snapshot.version,
    all: () => current.all,
    chain: () => current.chain,
    get: (id) => current.byName.get(id),
    isActive: (id) => current.byName.has(id),
    orderOf: (id) => {
      const index = current.chain.findIndex((p) => p.id === id);
      return index === -1 ? null : index;
    },
    route: (name) => current.routes.get(name),
    servingRoute: (model) => (model === undefined ? undefined : current.routes.get(model)) ?? current.routes.get(AUTO_MODEL),
    routes: () => [...current.routes.values()],
    priceOf: (model) => current.routes.get(model)?.price ?? null,
    pricedAs: (provider, upstreamModel, orDefault) => pricedAsIn(current, provider, upstreamModel, orDefault),
    billedAs: (route, provider, upstreamModel) => billedAsIn(current, route, provider, upstreamModel),
    snapshot: () => current.snapshot,
    apply(snapshot) {
      if (snapshot.version <= current.snapshot.version) return false;
      current = build(snapshot);
      return true;
    },
  };
}

/** The configuration the environment describes, as a snapshot (what the first start seeds). */
export function snapshotFromEnv(env: SeedEnv, version = 1): GatewaySnapshot {
  const at = new Date(0);
  const providers: ProviderConfig[] = seedProviders(env).map((p, position) => ({
    id: `env:${p.name}`,
    name: p.name,
    kind: p.kind,
    baseUrl: p.baseUrl,
    apiKey: p.apiKey,
    headers: {},
    timeoutMs: null,
    models: [p.model],
    apiVersion: null,
    healthPath: null,
    source: "env",
    position,
    createdAt: at,
    updatedAt: at,
  }));
  const auto: RouteConfig = {
    name: AUTO_MODEL,
    targets: seedAutoTargets(env),
    inputPricePerMTok: null,
    outputPricePerMTok: null,
    cachedInputPricePerMTok: null,
    cacheTtlSec: null,
    createdAt: at,
    updatedAt: at,
  };
  return { version, providers, routes: [auto] };
}

/**
 * A registry of exactly what the environment configures (unit tests, tools). `providers`
 * replaces the providers of those names (tests with their own provider objects); each of
 * them counts as configured.
 */
export function createProviderRegistry(
  env: SeedEnv & Pick<Env, "TEMPLATE_STREAM_DELAY_MS">,
  providers?: Partial<Record<string, ChatProvider>>,
): ProviderRegistry {
  let snapshot = snapshotFromEnv(env);
  if (providers) {
    const at = new Date(0);
    const extra = env.PROVIDER_ORDER.filter((id) => providers[id] && !snapshot.providers.some((p) => p.name === id));
    const added: ProviderConfig[] = extra.map((name, i) => ({
      ...snapshot.providers[0]!,
      id: `env:${name}`,
      name,
      kind: providers[name]!.kind,
      baseUrl: providers[name]!.baseUrl,
      models: [providers[name]!.model],
      position: snapshot.providers.length + i,
      createdAt: at,
      updatedAt: at,
    }));
    const all = [...snapshot.providers, ...added];
    const order = env.PROVIDER_ORDER.filter((id) => all.some((p) => p.name === id));
    snapshot = {
      ...snapshot,
      providers: all,
      routes: [{ ...snapshot.routes[0]!, targets: order.map((name) => ({ provider: name, upstreamModel: all.find((p) => p.name === name)!.models[0]!, weight: null })) }],
    };
  }
  return createLiveRegistry(snapshot, {
    templateStreamDelayMs: env.TEMPLATE_STREAM_DELAY_MS,
    ...(providers ? { make: (config: ProviderConfig) => providers[config.name] ?? createProvider(config as ProviderSettings, { templateStreamDelayMs: env.TEMPLATE_STREAM_DELAY_MS }) } : {}),
  });
}
