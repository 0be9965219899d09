/**
 * What applying a configuration document changes: compared with the providers and routes as
 * they are, the providers to create or update, the routes to create or replace, and (pruning)
 * what the document does not name, to delete — in an order each change can be made in:
 * routes pruned first (their names are free again), providers (routes name them), routes,
 * then providers pruned (after the routes that used them). Secrets are compared as held
 * (decrypted), so a document that states the same key changes nothing — unless the provider
 * moves (movesProvider), when a stated secret is sent again with the move.
 */
import { AUTO_MODEL, type TConfigDocument, type TConfigExport, type TConfigDocumentProvider, type TConfigStep, type TModelUpsertInput, type TProviderCreateInput, type TProviderUpdateInput } from "@switchboard/schema";
import { AppError } from "../errors.ts";
import type { ProviderConfig, RouteConfig } from "./config-types.ts";

export type ConfigOperation = TConfigStep &
  (
    | { op: "createProvider"; input: TProviderCreateInput }
    | { op: "updateProvider"; input: TProviderUpdateInput }
    | { op: "deleteProvider"; id: string }
    | { op: "upsertModel"; input: TModelUpsertInput }
    | { op: "deleteModel" }
  );

export interface ConfigPlan {
  operations: ConfigOperation[];
  /** Providers and routes the document names that already match it. */
  unchanged: number;
}

/** The audit's name for an operation (the same as the single-change procedures write). */
export function auditAction(operation: ConfigOperation): string {
  return operation.kind === "model" && operation.action !== "delete" ? "model.upsert" : `${operation.kind}.${operation.action}`;
}

export function planConfig(current: { providers: readonly ProviderConfig[]; routes: readonly RouteConfig[] }, document: TConfigDocument, prune: boolean): ConfigPlan {
  const operations: ConfigOperation[] = [];
  let unchanged = 0;

  if (prune) {
    const namedModels = new Set(document.models.map((m) => m.name));
    for (const route of current.routes) {
      if (route.name !== AUTO_MODEL && !namedModels.has(route.name)) operations.push({ op: "deleteModel", action: "delete", kind: "model", name: route.name, fields: [] });
    }
  }

  const held = new Map(current.providers.map((p) => [p.name, p]));
  for (const [i, wanted] of document.providers.entries()) {
    const existing = held.get(wanted.name);
    if (existing?.kind === "template") {
      throw new AppError("BAD_REQUEST", `providers.${i}: '${wanted.name}' is the offline template, which a document cannot change; leave it out`, { details: { field: `document.providers.${i}.name` } });
    }
    if (!existing) {
      operations.push({ op: "createProvider", action: "create", kind: "provider", name: wanted.name, fields: [], input: creation(wanted) });
      continue;
    }
    const update = providerUpdate(existing, wanted);
    const fields = Object.keys(update);
    if (fields.length === 0) unchanged += 1;
    else operations.push({ op: "updateProvider", action: "update", kind: "provider", name: wanted.name, fields, input: { id: existing.id, ...update } });
  }

  const routes = new Map(current.routes.map((r) => [r.name, r]));
  for (const wanted of document.models) {
    const existing = routes.get(wanted.name);
    const fields = existing ? routeChanges(existing, wanted) : [];
    if (existing && fields.length === 0) unchanged += 1;
    else operations.push({ op: "upsertModel", action: existing ? "update" : "create", kind: "model", name: wanted.name, fields, input: wanted });
  }

  if (prune) {
    const namedProviders = new Set(document.providers.map((p) => p.name));
    for (const provider of current.providers) {
      if (provider.kind !== "template" && !namedProviders.has(provider.name)) operations.push({ op: "deleteProvider", action: "delete", kind: "provider", name: provider.name, fields: [], id: provider.id });
    }
  }
  return { operations, unchanged };
}

function creation(wanted: TConfigDocumentProvider): TProviderCreateInput {
  const { apiKey, ...rest } = wanted;
  return { ...rest, ...(apiKey ? { apiKey } : {}) };
}

/** The fields of `existing` that differ from what the document says (secrets only when it states them). */
function providerUpdate(existing: ProviderConfig, wanted: TConfigDocumentProvider): Omit<TProviderUpdateInput, "id"> {
  const update: Omit<TProviderUpdateInput, "id"> = {};
  if (existing.kind !== wanted.kind) update.kind = wanted.kind;
  if (existing.baseUrl !== wanted.baseUrl) update.baseUrl = wanted.baseUrl;
  if (!sameList(existing.models, wanted.models)) update.models = wanted.models;
  if (existing.timeoutMs !== (wanted.timeoutMs ?? null)) update.timeoutMs = wanted.timeoutMs ?? null;
  if (existing.apiVersion !== (wanted.apiVersion ?? null)) update.apiVersion = wanted.apiVersion ?? null;
  if (existing.healthPath !== (wanted.healthPath ?? null)) update.healthPath = wanted.healthPath ?? null;
  // A provider that moves takes the secrets the document states with it, even unchanged: a
  // move made with an API key must restate them (config-store refuseSecretsMove).
  // A stored secret that cannot be decrypted (another SECRETS_KEY) differs from whatever is stated.
  const moved = movesProvider(existing, update);
  const unreadable = existing.unreadableSecrets ?? [];
  if (wanted.apiKey !== undefined && (moved || unreadable.includes("apiKey") || (existing.apiKey ?? null) !== wanted.apiKey)) update.apiKey = wanted.apiKey;
  if (wanted.headers !== undefined && (moved || unreadable.includes("headers") || !sameHeaders(existing.headers, wanted.headers))) update.headers = wanted.headers;
  return update;
}

/**
 * Whether a change points a provider somewhere else — any other baseUrl (another host, or
 * another tenant's path on a shared gateway) or kind — where its stored secrets would follow.
 */
export function movesProvider(existing: { baseUrl: string | null; kind: string }, change: { baseUrl?: string | undefined; kind?: string | undefined }): boolean {
  return (change.baseUrl !== undefined && change.baseUrl !== existing.baseUrl) || (change.kind !== undefined && change.kind !== existing.kind);
}

/** A route's settings beside its targets: each stated in a document only when set. */
const ROUTE_SETTINGS = ["inputPricePerMTok", "outputPricePerMTok", "cachedInputPricePerMTok", "cacheTtlSec"] as const;

/** A stored provider as a document states it: no secrets, defaults left out. */
export function providerDocument(p: ProviderConfig): TConfigExport["providers"][number] {
  return {
    name: p.name,
    kind: p.kind as TProviderCreateInput["kind"],
    baseUrl: p.baseUrl ?? "",
    models: [...p.models],
    ...(p.timeoutMs !== null ? { timeoutMs: p.timeoutMs } : {}),
    ...(p.apiVersion !== null ? { apiVersion: p.apiVersion } : {}),
    ...(p.healthPath !== null ? { healthPath: p.healthPath } : {}),
  };
}

/** A stored route as a document states it: a target's weight, prices and cache time only when set. */
export function routeDocument(r: RouteConfig): TConfigExport["models"][number] {
  const settings = Object.fromEntries(ROUTE_SETTINGS.flatMap((setting) => (r[setting] !== null ? [[setting, r[setting]]] : [])));
  return { name: r.name, targets: r.targets.map(({ provider, upstreamModel, weight }) => ({ provider, upstreamModel, ...(weight !== null ? { weight } : {}) })), ...settings };
}

/** The fields of a route that differ from what the document says, compared in document form. */
function routeChanges(existing: RouteConfig, wanted: TModelUpsertInput): string[] {
  const held = routeDocument(existing);
  const targets = wanted.targets.map(({ provider, upstreamModel, weight }) => ({ provider, upstreamModel, ...(weight !== undefined ? { weight } : {}) }));
  const fields = JSON.stringify(held.targets) === JSON.stringify(targets) ? [] : ["targets"];
  return [...fields, ...ROUTE_SETTINGS.filter((setting) => held[setting] !== wanted[setting])];
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Header names are case-insensitive; values are compared exactly. */
function sameHeaders(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const normal = (h: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]).sort(([x], [y]) => (x! < y! ? -1 : x! > y! ? 1 : 0)));
  return normal(a) === normal(b);
}
