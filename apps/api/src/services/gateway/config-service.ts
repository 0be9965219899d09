/**
 * Providers and model routes as live configuration. A change is written to PostgreSQL
 * (version + audit, config-store.ts), applied here at once, published through coordination
 * and applied by every other instance when the message arrives; the answer says how many
 * live instances applied it. A periodic version check catches a missed message.
 */
import type { Logger } from "pino";
import {
  AUTO_MODEL,
  type TConfigImportResult,
  type TConfigDocument,
  type TConfigExport,
  type TConfigChange,
  type TModelChangeResult,
  type TModelItem,
  type TModelUpsertInput,
  type TProviderChangeResult,
  type TProviderCreateInput,
  type TProviderItem,
  type TProviderTestResult,
  type TProviderUpdateInput,
} from "@switchboard/schema";
import { followChannel } from "../../infra/channel-follower.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createFleetAcks } from "../../infra/fleet-acks.ts";
import { maskSecret } from "../../infra/secrets.ts";
import { unreadableSecretsMessage } from "../../providers/create-provider.ts";
import { ProviderError } from "../../providers/types.ts";
import { AppError } from "../errors.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";
import { providerDocument, routeDocument } from "./config-plan.ts";
import type { ConfigActor, ConfigStore } from "./config-store.ts";
import type { ProviderConfig, RouteConfig } from "./config-types.ts";
import type { HealthProbe } from "./health-probe.ts";
import type { ProviderRegistry } from "./registry.ts";

/** Every change is announced here as {version}; instances reload when it is newer. */
export const CONFIG_CHANNEL = "gateway:config";
/** Instances confirm here the configuration version they hold. */
export const CONFIG_ACK_CHANNEL = "gateway:config-ack";
export const CONFIG_RECHECK_MS = 5_000;
const TEST_TIMEOUT_MS = 15_000;

export interface ConfigServiceDeps {
  store: ConfigStore;
  registry: ProviderRegistry;
  breaker: CircuitBreaker;
  health: HealthProbe;
  coordination: Coordination;
  instanceId: string;
  ackWaitMs: number;
  log: Logger;
  recheckMs?: number;
  /** Called after every applied version (this instance's own changes included). */
  onApplied?: (version: number) => void;
}

const iso = (d: Date) => d.toISOString();

/** How a stored key that cannot be decrypted shows in a provider's item (beside `unreadableSecrets`). */
const UNREADABLE = "(unreadable)";

/** Says which providers' stored secrets this instance cannot decrypt (they are not called until set again). */
export function warnUnreadable(log: Logger, snapshot: { providers: readonly ProviderConfig[] }): void {
  const unreadable = snapshot.providers.filter((p) => p.unreadableSecrets?.length);
  if (unreadable.length === 0) return;
  log.warn(
    { providers: unreadable.map((p) => ({ name: p.name, unreadable: p.unreadableSecrets })) },
    "stored provider secrets cannot be decrypted with this SECRETS_KEY (was it changed?): these providers are not called until their apiKey/headers are set again",
  );
}

function usedByOf(name: string, routes: RouteConfig[]): string[] {
  return routes.filter((r) => r.targets.some((t) => t.provider === name)).map((r) => r.name);
}

export function createConfigService(deps: ConfigServiceDeps) {
  const { store, registry } = deps;
  const acks = createFleetAcks({ coordination: deps.coordination, instanceId: deps.instanceId, ackChannel: CONFIG_ACK_CHANNEL, ackWaitMs: deps.ackWaitMs });
  const unsubscribers: Array<() => Promise<void>> = [];
  // One reload at a time; a request for a newer version during one runs once more after it.
  let reloading: Promise<void> | null = null;
  let wanted = 0;

  async function reloadTo(version: number): Promise<void> {
    wanted = Math.max(wanted, version);
    if (reloading) return reloading;
    reloading = (async () => {
      try {
        while (registry.version() < wanted) {
          const snapshot = await store.load();
          if (registry.apply(snapshot)) {
            warnUnreadable(deps.log, snapshot);
            deps.onApplied?.(snapshot.version);
            void deps.health.probeNow();
          }
          acks.acknowledge(registry.version());
          if (snapshot.version < wanted) break; // the row is not there yet: the recheck will come back
        }
      } catch (error) {
        deps.log.warn({ err: error }, "could not reload the gateway configuration; keeping the current one");
      } finally {
        reloading = null;
      }
    })();
    return reloading;
  }

  async function start(): Promise<void> {
    unsubscribers.push(await acks.listen());
    // A change pushed while coordination was down is caught at once on reconnect, and by
    // the periodic recheck when a push is lost some other way.
    const catchUp = () =>
      void store.version().then(
        (v) => (v > registry.version() ? reloadTo(v) : undefined),
        () => {},
      );
    unsubscribers.push(
      await followChannel(deps.coordination, {
        channel: CONFIG_CHANNEL,
        onMessage(raw) {
          let version: unknown;
          try {
            version = (JSON.parse(raw) as { version?: unknown }).version;
          } catch {
            version = undefined;
          }
          if (!Number.isInteger(version)) return;
          if ((version as number) > registry.version()) void reloadTo(version as number);
          else acks.acknowledge(registry.version());
        },
        onReconnect: catchUp,
        resync: { intervalMs: deps.recheckMs ?? CONFIG_RECHECK_MS, run: catchUp },
      }),
    );
    deps.health.start();
  }

  async function close(): Promise<void> {
    deps.health.stop();
    await Promise.all(unsubscribers.map((off) => off().catch(() => {})));
  }

  /** Applies a version written here, publishes it and collects acknowledgements. */
  async function propagate(version: number): Promise<TConfigChange> {
    await reloadTo(version);
    const { proof } = await acks.propagate(version, () => deps.coordination.publish(CONFIG_CHANNEL, JSON.stringify({ version })));
    return { version, ...proof };
  }

  function providerItem(p: ProviderConfig): TProviderItem {
    const circuit = deps.breaker.snapshot(p.name);
    return {
      id: p.id,
      name: p.name,
      kind: p.kind,
      baseUrl: p.baseUrl,
      apiKeyMasked: p.unreadableSecrets?.includes("apiKey") ? UNREADABLE : p.apiKey ? maskSecret(p.apiKey) : null,
      headers: Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k, maskSecret(v, { vendorPrefix: false })])),
      unreadableSecrets: [...(p.unreadableSecrets ?? [])],
      timeoutMs: p.timeoutMs,
      models: p.models,
      apiVersion: p.apiVersion,
      healthPath: p.healthPath,
      source: p.source,
      health: deps.health.of(p.name),
      circuit: { state: circuit.state, consecutiveFailures: circuit.consecutiveFailures, retryAt: circuit.retryAt },
      usedBy: usedByOf(p.name, registry.snapshot().routes),
      createdAt: iso(p.createdAt),
      updatedAt: iso(p.updatedAt),
    };
  }

  function modelItem(r: RouteConfig): TModelItem {
    return {
      name: r.name,
      targets: r.targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel, weight: t.weight })),
      inputPricePerMTok: r.inputPricePerMTok,
      outputPricePerMTok: r.outputPricePerMTok,
      cachedInputPricePerMTok: r.cachedInputPricePerMTok,
      cacheTtlSec: r.cacheTtlSec,
      isDefault: r.name === AUTO_MODEL,
      createdAt: iso(r.createdAt),
      updatedAt: iso(r.updatedAt),
    };
  }

  /** Offset pagination over the in-memory list: the cursor is the next index. */
  function page<T>(items: T[], input: { cursor?: string | undefined; limit: number }) {
    const start = input.cursor === undefined ? 0 : Number.parseInt(input.cursor, 10);
    if (!Number.isInteger(start) || start < 0 || (input.cursor !== undefined && String(start) !== input.cursor)) {
      throw new AppError("BAD_REQUEST", "cursor: not a cursor this list returned", { details: { field: "cursor" } });
    }
    const slice = items.slice(start, start + input.limit);
    const next = start + slice.length;
    return { items: slice, nextCursor: next < items.length ? String(next) : null };
  }

  function findProvider(id: string): ProviderConfig {
    const found = registry.snapshot().providers.find((p) => p.id === id);
    if (!found) throw new AppError("NOT_FOUND", "No provider with this id", { details: { field: "id" } });
    return found;
  }

  return {
    start,
    close,
    version: () => registry.version(),
    /** Every provider's last probe result, by name (for /metrics). */
    health: () => deps.health.all(),
    /** The configuration this instance holds is at least `version` (reloads when behind). */
    ensure: (version: number) => (registry.version() >= version ? Promise.resolve() : reloadTo(version)),

    listProviders: (input: { cursor?: string | undefined; limit: number }) => page(registry.snapshot().providers.map(providerItem), input),
    getProvider: (id: string) => providerItem(findProvider(id)),

    async createProvider(actor: ConfigActor, input: TProviderCreateInput): Promise<TProviderChangeResult> {
      const { result, version } = await store.createProvider(actor, input);
      const change = await propagate(version);
      return { ...change, provider: providerItem(registry.snapshot().providers.find((p) => p.id === result.id) ?? result) };
    },
    async updateProvider(actor: ConfigActor, input: TProviderUpdateInput): Promise<TProviderChangeResult> {
      const { result, version } = await store.updateProvider(actor, input);
      const change = await propagate(version);
      return { ...change, provider: providerItem(registry.snapshot().providers.find((p) => p.id === result.id) ?? result) };
    },
    async deleteProvider(actor: ConfigActor, id: string): Promise<TProviderChangeResult> {
      const { version } = await store.deleteProvider(actor, id);
      return { ...(await propagate(version)), provider: null };
    },

    /** One real call through the provider, outside the chain (no breaker, no fallback). */
    async testProvider(id: string): Promise<TProviderTestResult> {
      const config = findProvider(id);
      // Left out of the registry (never called): the test says why instead of "no provider".
      if (config.unreadableSecrets?.length) return { ok: false, latencyMs: 0, error: unreadableSecretsMessage(config.name, config.unreadableSecrets) };
      const provider = registry.get(config.name);
      if (!provider) throw new AppError("NOT_FOUND", "No provider with this id", { details: { field: "id" } });
      const started = performance.now();
      const signal = AbortSignal.timeout(config.timeoutMs ?? TEST_TIMEOUT_MS);
      try {
        const answer = await provider.complete({ messages: [{ role: "user", content: "Reply with the word: ok" }], maxTokens: 16, signal });
        return { ok: true, latencyMs: Math.round(performance.now() - started), model: answer.model };
      } catch (error) {
        const latencyMs = Math.round(performance.now() - started);
        const failure = error instanceof ProviderError ? error : undefined;
        const message = signal.aborted ? `no answer within ${config.timeoutMs ?? TEST_TIMEOUT_MS} ms` : (failure?.message ?? String((error as Error)?.message ?? error));
        return { ok: false, latencyMs, error: message, ...(failure?.status !== undefined ? { status: failure.status } : {}) };
      }
    },

    /**
     * The configuration as a document, without secrets (a provider's key and headers stay as
     * set when it is applied), read from the database: what an import is compared with, not
     * this instance's copy, which may trail a change made elsewhere by a few seconds.
     */
    async exportDocument(): Promise<TConfigExport> {
      const { providers, routes } = await store.load();
      // A route left without targets (seeded from a provider that was never configured)
      // serves nothing and could not be written back: it is left out (and never pruned: `auto`).
      return { providers: providers.filter((p) => p.kind !== "template").map(providerDocument), models: routes.filter((r) => r.targets.length > 0).map(routeDocument) };
    },
    /** Makes the configuration what a document says, as one version (config-store's applyDocument). */
    async applyDocument(actor: ConfigActor, input: { document: TConfigDocument; prune: boolean; dryRun: boolean; ifVersion?: number | undefined }): Promise<TConfigImportResult> {
      const { operations, unchanged, basedOn, version } = await store.applyDocument(actor, input.document, input);
      const steps = operations.map(({ action, kind, name, fields }) => ({ action, kind, name, fields }));
      return { dryRun: input.dryRun, basedOn, steps, unchanged, change: version === null ? null : await propagate(version) };
    },
    /** Who changed what and when, newest first (config-store's audit rows). */
    history: (input: { cursor?: string | undefined; limit: number; target?: string | undefined }) => store.history(input),

    listModels: (input: { cursor?: string | undefined; limit: number }) => page(registry.snapshot().routes.map(modelItem), input),
    async upsertModel(actor: ConfigActor, input: TModelUpsertInput): Promise<TModelChangeResult> {
      const { result, version } = await store.upsertRoute(actor, input);
      const change = await propagate(version);
      return { ...change, model: modelItem(registry.snapshot().routes.find((r) => r.name === result.name) ?? result) };
    },
    async deleteModel(actor: ConfigActor, name: string): Promise<TModelChangeResult> {
      const { version } = await store.deleteRoute(actor, name);
      return { ...(await propagate(version)), model: null };
    },

    /** A model's price for spend accounting: synchronous, from memory. */
    priceOf: (model: string) => registry.priceOf(model),
  };
}

export type ConfigService = ReturnType<typeof createConfigService>;
