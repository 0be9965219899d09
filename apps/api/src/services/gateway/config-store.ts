/**
 * PostgreSQL side of the gateway configuration: providers (secrets sealed with the secret
 * box), model routes, the version row and the audit trail. Every change is one transaction
 * that first locks the version row (bumping it; a whole document locks it before planning),
 * so concurrent changes serialise, then validates against the rows as they are, writes, and
 * audits; a refusal rolls back whole.
 */
import { AUTO_MODEL, type TConfigDocument, type TConfigHistoryPage, type TModelUpsertInput, type TProviderCreateInput, type TProviderKind, type TProviderUpdateInput } from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.ts";
import { keyNamesOf } from "../../infra/key-names.ts";
import { boundLockWaits, transactionBound, withStatementBoundRaised } from "../../infra/statement-bounds.ts";
import type { SecretBox } from "../../infra/secrets.ts";
import type { UnreadableSecret } from "../../providers/create-provider.ts";
import { cursorPage } from "../cursor-page.ts";
import { AppError } from "../errors.ts";
import type { GatewaySnapshot, ProviderConfig, RouteConfig, RouteTargetConfig } from "./config-types.ts";
import { seedAutoTargets, seedProviders, type SeedEnv } from "./env-seed.ts";
import { auditAction, movesProvider, planConfig, type ConfigOperation, type ConfigPlan } from "./config-plan.ts";
import { holdingsIn, refuseGrowthPastLimits } from "./config-limits.ts";
import { providerNameClash, routeNameClash } from "./model-names.ts";

const CONFIG_ROW = 1;

/** Who changes the configuration, as the audit names them. */
export interface ConfigActor {
  id: string | null;
  email: string | null;
  /** The API key the change came with (configuration as code); absent when signed in. */
  keyId?: string | undefined;
}

type Tx = Prisma.TransactionClient;

/**
 * How long a configuration change waits for the version row: behind a whole document being
 * applied (or dry-run) that may take tens of seconds on a large configuration. Prisma's bounds
 * on the transactions come after it (transactionBound).
 */
const CONFIG_LOCK_WAIT_MS = 25_000;
/**
 * The statement bound on the statement that waits for the version row: the wait and a little
 * more, so that lock_timeout, not the statement bound, ends a wait too long; under Prisma's
 * bound on the transaction (transactionBound counts it), so that the server ends the statement
 * first and leaves the connection clean.
 */
const CONFIG_LOCK_STATEMENT_MS = CONFIG_LOCK_WAIT_MS + 1_000;
/** What a whole document's transaction may take past its wait for the version row and one statement's bound: many statements. */
const DOCUMENT_WORK_MS = 30_000;

/**
 * Runs `lock`, the statement of a configuration change's transaction that waits for the
 * version row, with that wait bounded by CONFIG_LOCK_WAIT_MS and the statement bound raised
 * for it alone, so that it is not ended by a statement bound (DATABASE_STATEMENT_TIMEOUT_MS)
 * configured shorter than that wait: a change queued behind another gets the outcome it would
 * get without it, not a 503. The transaction's other statements keep the configured bound.
 */
async function waitForVersionRow<T>(tx: Tx, lock: () => Promise<T>): Promise<T> {
  await boundLockWaits(tx, CONFIG_LOCK_WAIT_MS);
  return withStatementBoundRaised(tx, CONFIG_LOCK_STATEMENT_MS, lock);
}
type ProviderRow = Prisma.ProviderGetPayload<object>;
type RouteRow = Prisma.ModelRouteGetPayload<object>;

const badField = (field: string, message: string) => new AppError("BAD_REQUEST", message, { details: { field } });
const nameConflict = (message: string) => new AppError("CONFLICT", message, { details: { field: "name" } });

function parseTargets(raw: unknown): RouteTargetConfig[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t) => {
    const target = t as Partial<RouteTargetConfig>;
    if (typeof target.provider !== "string" || typeof target.upstreamModel !== "string") return [];
    return [{ provider: target.provider, upstreamModel: target.upstreamModel, weight: typeof target.weight === "number" ? target.weight : null }];
  });
}

/** Undoes a dry run's changes (its transaction rolls back), carrying what it found. */
class DryRun extends Error {
  constructor(readonly outcome: ConfigPlan & { basedOn: number; version: null }) {
    super("dry run");
  }
}

/** A refusal of one change of a document, naming the provider or route it is about. */
function naming(operation: ConfigOperation, error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  const field = typeof error.details["field"] === "string" ? `.${error.details["field"]}` : "";
  return new AppError(error.code, `${operation.kind} '${operation.name}': ${error.message}`, {
    details: { ...error.details, field: `${operation.kind === "provider" ? "providers" : "models"}[${operation.name}]${field}` },
    ...(error.retryAfterSec !== undefined ? { retryAfterSec: error.retryAfterSec } : {}),
    cause: error,
  });
}

/**
 * A change made with an API key that moves a provider (another baseUrl or kind) must state
 * its secrets again: the stored key and headers go wherever baseUrl points, and a key's word
 * is not enough to send them somewhere new (a signed-in SuperAdmin's is).
 */
function refuseSecretsMove(actor: ConfigActor, row: ProviderRow, fields: Omit<TProviderUpdateInput, "id">): void {
  if (!actor.keyId || !movesProvider(row, fields)) return;
  const kept = row.apiKeyCipher !== null && fields.apiKey === undefined ? "apiKey" : row.headersCipher !== null && fields.headers === undefined ? "headers" : undefined;
  if (kept) {
    throw new AppError("FORBIDDEN", `${kept}: moving provider '${row.name}' with an API key needs its apiKey and headers stated again (or null / {}): the stored ones are not sent somewhere new on a key's word`, {
      details: { field: kept },
    });
  }
}

export function createConfigStore(prisma: PrismaClient, box: SecretBox) {
  /**
   * A sealed value opened, or undefined when it cannot be (sealed under another SECRETS_KEY,
   * or damaged): one provider's unreadable secret must not make the whole configuration
   * unloadable (a start that fails, an instance that stops following changes).
   */
  function tryOpen<T>(sealed: string, read: (plain: string) => T): T | undefined {
    try {
      return read(box.open(sealed));
    } catch {
      return undefined;
    }
  }

  function toProvider(row: ProviderRow): ProviderConfig {
    const apiKey = row.apiKeyCipher ? tryOpen(row.apiKeyCipher, (plain) => plain) : undefined;
    const headers = row.headersCipher ? tryOpen(row.headersCipher, (plain) => JSON.parse(plain) as Record<string, string>) : {};
    const unreadableSecrets: UnreadableSecret[] = [...(row.apiKeyCipher && apiKey === undefined ? ["apiKey" as const] : []), ...(headers === undefined ? ["headers" as const] : [])];
    return {
      id: row.id,
      name: row.name,
      kind: row.kind as TProviderKind,
      baseUrl: row.baseUrl,
      apiKey,
      headers: headers ?? {},
      ...(unreadableSecrets.length > 0 ? { unreadableSecrets } : {}),
      timeoutMs: row.timeoutMs,
      models: Array.isArray(row.models) ? row.models.filter((m): m is string => typeof m === "string") : [],
      apiVersion: row.apiVersion,
      healthPath: row.healthPath,
      source: row.source === "env" ? "env" : "api",
      position: row.position,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }

  function toRoute(row: RouteRow): RouteConfig {
    return {
      name: row.name,
      targets: parseTargets(row.targets),
      inputPricePerMTok: row.inputPricePerMTok,
      outputPricePerMTok: row.outputPricePerMTok,
      cachedInputPricePerMTok: row.cachedInputPricePerMTok,
      cacheTtlSec: row.cacheTtlSec,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }

  async function version(): Promise<number> {
    const row = await prisma.gatewayConfig.findUnique({ where: { id: CONFIG_ROW }, select: { version: true } });
    return row?.version ?? 0;
  }

  async function load(): Promise<GatewaySnapshot> {
    const [row, providers, routes] = await prisma.$transaction([
      prisma.gatewayConfig.findUnique({ where: { id: CONFIG_ROW } }),
      prisma.provider.findMany({ orderBy: [{ position: "asc" }, { createdAt: "asc" }] }),
      prisma.modelRoute.findMany({ orderBy: { createdAt: "asc" } }),
    ]);
    return { version: row?.version ?? 0, providers: providers.map(toProvider), routes: routes.map(toRoute) };
  }

  /**
   * On the very first start (no version row), writes the providers and the `auto` route
   * the environment describes. Concurrent first starts race on the version row's primary
   * key: one seeds, the others find it done.
   */
  async function seedIfEmpty(env: SeedEnv): Promise<boolean> {
    try {
      return await prisma.$transaction(async (tx) => {
        if (await tx.gatewayConfig.findUnique({ where: { id: CONFIG_ROW } })) return false;
        await tx.gatewayConfig.create({ data: { id: CONFIG_ROW, version: 1 } });
        const seeded = seedProviders(env);
        for (const [position, p] of seeded.entries()) {
          await tx.provider.create({
            data: {
              name: p.name,
              kind: p.kind,
              baseUrl: p.baseUrl,
              apiKeyCipher: p.apiKey ? box.seal(p.apiKey) : null,
              models: [p.model],
              source: "env",
              position,
            },
          });
        }
        await tx.modelRoute.create({ data: { name: AUTO_MODEL, targets: seedAutoTargets(env) as unknown as Prisma.InputJsonValue } });
        await tx.configAudit.create({
          data: {
            version: 1,
            action: "seed",
            target: "environment",
            changes: { providers: seeded.map((p) => p.name), auto: seedAutoTargets(env).map((t) => t.provider) },
          },
        });
        return true;
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") return false;
      throw error;
    }
  }

  /** Bumps the version, locking its row until the transaction ends: concurrent changes serialise. */
  async function nextVersion(tx: Tx): Promise<number> {
    const { version } = await tx.gatewayConfig.upsert({
      where: { id: CONFIG_ROW },
      create: { id: CONFIG_ROW, version: 1 },
      update: { version: { increment: 1 } },
    });
    return version;
  }

  async function audit(tx: Tx, version: number, actor: ConfigActor, what: { action: string; target: string }, changes: Record<string, unknown>): Promise<void> {
    await tx.configAudit.create({
      data: { version, action: what.action, target: what.target, actorId: actor.id, actorEmail: actor.email, actorKeyId: actor.keyId ?? null, changes: changes as Prisma.InputJsonValue },
    });
  }

  /**
   * Runs `change` after bumping the version; returns its result and the new version. The audit
   * row names the `target` the change reports, read under the version row's lock: a provider
   * renamed by a change that landed just before is named as it now is.
   */
  async function change<T>(
    actor: ConfigActor,
    action: string,
    change: (tx: Tx) => Promise<{ result: T; changes: Record<string, unknown>; target: string }>,
  ): Promise<{ result: T; version: number }> {
    return prisma.$transaction(
      async (tx) => {
        const next = await waitForVersionRow(tx, () => nextVersion(tx));
        const { result, changes, target } = await change(tx);
        await audit(tx, next, actor, { action, target }, changes);
        return { result, version: next };
      },
      // May wait on the version row behind a whole document being applied.
      { maxWait: 10_000, timeout: transactionBound(prisma, CONFIG_LOCK_STATEMENT_MS) },
    );
  }

  /** Runs `work` (in a change's transaction, the version row locked), refusing it if it takes the gateway past what a document holds. */
  async function withinLimits<T>(tx: Tx, work: () => Promise<T>): Promise<T> {
    const before = await holdingsIn(tx);
    const result = await work();
    refuseGrowthPastLimits(before, await holdingsIn(tx));
    return result;
  }

  /** Refuses a provider name clients could not tell from a model route's (model-names.ts). */
  async function checkProviderName(tx: Tx, name: string): Promise<void> {
    const routes = (await tx.modelRoute.findMany({ select: { name: true } })).map((r) => r.name);
    const clash = providerNameClash(name, routes);
    if (clash) throw nameConflict(clash);
  }

  async function routesUsing(tx: Tx, provider: string): Promise<string[]> {
    const routes = await tx.modelRoute.findMany({ select: { name: true, targets: true }, orderBy: { name: "asc" } });
    return routes.filter((r) => parseTargets(r.targets).some((t) => t.provider === provider)).map((r) => r.name);
  }

  /** What an audit row may say about a provider change: never a secret, only that one changed. */
  function auditOf(input: Record<string, unknown> & { apiKey?: string | null | undefined; headers?: Record<string, string> | null | undefined }) {
    const { apiKey, headers, ...rest } = input;
    return {
      ...rest,
      ...(apiKey !== undefined ? { apiKey: apiKey === null ? "removed" : "set" } : {}),
      ...(headers !== undefined ? { headers: headers === null ? [] : Object.keys(headers) } : {}),
    };
  }

  async function createProviderIn(tx: Tx, input: TProviderCreateInput) {
    if (await tx.provider.findUnique({ where: { name: input.name } })) {
      throw new AppError("CONFLICT", `name: a provider named '${input.name}' already exists`, { details: { field: "name" } });
    }
    await checkProviderName(tx, input.name);
    const last = await tx.provider.aggregate({ _max: { position: true } });
    const row = await tx.provider.create({
      data: {
        name: input.name,
        kind: input.kind,
        baseUrl: input.baseUrl,
        apiKeyCipher: input.apiKey ? box.seal(input.apiKey) : null,
        headersCipher: input.headers && Object.keys(input.headers).length > 0 ? box.seal(JSON.stringify(input.headers)) : null,
        timeoutMs: input.timeoutMs ?? null,
        models: input.models,
        apiVersion: input.apiVersion ?? null,
        healthPath: input.healthPath ?? null,
        source: "api",
        position: (last._max.position ?? -1) + 1,
      },
    });
    return { result: toProvider(row), changes: auditOf(input), target: input.name };
  }

  function createProvider(actor: ConfigActor, input: TProviderCreateInput) {
    return change(actor, "provider.create", (tx) => withinLimits(tx, () => createProviderIn(tx, input)));
  }

  function updateProvider(actor: ConfigActor, input: TProviderUpdateInput) {
    return change(actor, "provider.update", (tx) => updateProviderIn(tx, input, actor));
  }

  async function updateProviderIn(tx: Tx, input: TProviderUpdateInput, actor: ConfigActor) {
    const { id, ...fields } = input;
    const row = await tx.provider.findUnique({ where: { id } });
    if (!row) throw new AppError("NOT_FOUND", "No provider with this id", { details: { field: "id" } });
    refuseSecretsMove(actor, row, fields);
    if (row.kind === "template" && (fields.kind !== undefined || fields.baseUrl !== undefined || fields.name !== undefined)) {
      throw badField("kind", "kind: the offline template's name, kind and URL cannot change");
    }
    const renamed = fields.name !== undefined && fields.name !== row.name;
    if (renamed && (await tx.provider.findUnique({ where: { name: fields.name! } }))) {
      throw new AppError("CONFLICT", `name: a provider named '${fields.name}' already exists`, { details: { field: "name" } });
    }
    if (renamed) await checkProviderName(tx, fields.name!);
    const updated = await tx.provider.update({
      where: { id },
      data: {
        ...(fields.name !== undefined ? { name: fields.name } : {}),
        ...(fields.kind !== undefined ? { kind: fields.kind } : {}),
        ...(fields.baseUrl !== undefined ? { baseUrl: fields.baseUrl } : {}),
        ...(fields.apiKey !== undefined ? { apiKeyCipher: fields.apiKey === null ? null : box.seal(fields.apiKey) } : {}),
        ...(fields.headers !== undefined
          ? { headersCipher: fields.headers === null || Object.keys(fields.headers).length === 0 ? null : box.seal(JSON.stringify(fields.headers)) }
          : {}),
        ...(fields.timeoutMs !== undefined ? { timeoutMs: fields.timeoutMs } : {}),
        ...(fields.models !== undefined ? { models: fields.models } : {}),
        ...(fields.apiVersion !== undefined ? { apiVersion: fields.apiVersion } : {}),
        ...(fields.healthPath !== undefined ? { healthPath: fields.healthPath } : {}),
        // Edited through the API: no longer what the environment said.
        source: "api",
      },
    });
    if (renamed) {
      // Routes name their providers: follow the rename so no route breaks.
      for (const route of await tx.modelRoute.findMany()) {
        const targets = parseTargets(route.targets);
        if (!targets.some((t) => t.provider === row.name)) continue;
        const renamedTargets = targets.map((t) => (t.provider === row.name ? { ...t, provider: fields.name! } : t));
        await tx.modelRoute.update({ where: { name: route.name }, data: { targets: renamedTargets as unknown as Prisma.InputJsonValue } });
      }
    }
    // Named as it was when this change began (a rename's new name is among the changes).
    return { result: toProvider(updated), changes: auditOf(fields), target: row.name };
  }

  function deleteProvider(actor: ConfigActor, id: string) {
    return change(actor, "provider.delete", (tx) => deleteProviderIn(tx, id));
  }

  async function deleteProviderIn(tx: Tx, id: string) {
    const row = await tx.provider.findUnique({ where: { id } });
    if (!row) throw new AppError("NOT_FOUND", "No provider with this id", { details: { field: "id" } });
    const usedBy = await routesUsing(tx, row.name);
    if (usedBy.length > 0) {
      throw new AppError("CONFLICT", `Provider '${row.name}' is used by the model routes ${usedBy.join(", ")}; change them first`, {
        details: { field: "id", routes: usedBy },
      });
    }
    await tx.provider.delete({ where: { id } });
    return { result: toProvider(row), changes: { name: row.name }, target: row.name };
  }

  function upsertRoute(actor: ConfigActor, input: TModelUpsertInput) {
    return change(actor, "model.upsert", (tx) => withinLimits(tx, () => upsertRouteIn(tx, input)));
  }

  async function upsertRouteIn(tx: Tx, input: TModelUpsertInput) {
    const known = new Set((await tx.provider.findMany({ select: { name: true } })).map((p) => p.name));
    const clash = routeNameClash(input.name, known);
    if (clash) throw nameConflict(clash);
    for (const [i, target] of input.targets.entries()) {
      if (!known.has(target.provider)) {
        throw badField(`targets.${i}.provider`, `targets.${i}.provider: no provider named '${target.provider}'`);
      }
    }
    const seen = new Set<string>();
    for (const [i, target] of input.targets.entries()) {
      const key = `${target.provider}\u0001${target.upstreamModel}`;
      if (seen.has(key)) throw badField(`targets.${i}`, `targets.${i}: ${target.provider}/${target.upstreamModel} is listed twice`);
      seen.add(key);
    }
    const targets = input.targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel, weight: t.weight ?? null }));
    // A route is replaced whole: a setting left out is unset.
    const settings = {
      inputPricePerMTok: input.inputPricePerMTok ?? null,
      outputPricePerMTok: input.outputPricePerMTok ?? null,
      cachedInputPricePerMTok: input.cachedInputPricePerMTok ?? null,
      cacheTtlSec: input.cacheTtlSec ?? null,
    };
    const row = await tx.modelRoute.upsert({
      where: { name: input.name },
      create: { name: input.name, targets: targets as unknown as Prisma.InputJsonValue, ...settings },
      update: { targets: targets as unknown as Prisma.InputJsonValue, ...settings },
    });
    return { result: toRoute(row), changes: { targets, ...settings }, target: input.name };
  }

  function deleteRoute(actor: ConfigActor, name: string) {
    return change(actor, "model.delete", (tx) => deleteRouteIn(tx, name));
  }

  async function deleteRouteIn(tx: Tx, name: string) {
    if (name === AUTO_MODEL) throw badField("name", "name: the default route 'auto' can be edited but not deleted");
    const row = await tx.modelRoute.findUnique({ where: { name } });
    if (!row) throw new AppError("NOT_FOUND", `No model named '${name}'`, { details: { field: "name" } });
    await tx.modelRoute.delete({ where: { name } });
    return { result: toRoute(row), changes: {}, target: name };
  }

  /**
   * Makes the configuration what `document` says (configuration as code): plans against the
   * rows as they are, with the version row locked so that nothing lands between the plan and
   * its writes, then makes every change as one version, each audited. Nothing to change (or a
   * dry run): no version, no audit. A refusal of any change rolls back all of them.
   */
  async function applyDocument(actor: ConfigActor, document: TConfigDocument, opts: { prune: boolean; dryRun: boolean; ifVersion?: number | undefined }) {
    try {
      return await prisma.$transaction(
        async (tx) => {
          const [locked] = await waitForVersionRow(tx, () => tx.$queryRaw<Array<{ version: number }>>`SELECT "version" FROM "GatewayConfig" WHERE "id" = ${CONFIG_ROW} FOR UPDATE`);
          const basedOn = locked?.version ?? 0;
          if (opts.ifVersion !== undefined && opts.ifVersion !== basedOn) {
            throw new AppError("CONFLICT", `The configuration changed since version ${opts.ifVersion} (it is at ${basedOn}): preview the document again`, { details: { field: "ifVersion", version: basedOn } });
          }
          const providers = (await tx.provider.findMany({ orderBy: [{ position: "asc" }, { createdAt: "asc" }] })).map(toProvider);
          const routes = (await tx.modelRoute.findMany({ orderBy: { createdAt: "asc" } })).map(toRoute);
          const plan = planConfig({ providers, routes }, document, opts.prune);
          if (plan.operations.length === 0) return { ...plan, basedOn, version: null };
          const version = await nextVersion(tx);
          // Counted once the whole document is applied: with pruning, what it replaces goes last.
          await withinLimits(tx, async () => {
            for (const operation of plan.operations) {
              const { changes } = await runOperation(tx, operation, actor).catch((error: unknown) => {
                throw naming(operation, error);
              });
              await audit(tx, version, actor, { action: auditAction(operation), target: operation.name }, changes);
            }
          });
          // A dry run makes every change, so that it meets every refusal the real one would, then undoes them all.
          if (opts.dryRun) throw new DryRun({ ...plan, basedOn, version: null });
          return { ...plan, basedOn, version };
        },
        // A whole document is many statements; the lock wait counts too.
        { maxWait: 10_000, timeout: transactionBound(prisma, CONFIG_LOCK_STATEMENT_MS + DOCUMENT_WORK_MS) },
      );
    } catch (error) {
      if (error instanceof DryRun) return error.outcome;
      throw error;
    }
  }

  /** Audited changes, newest first; each names the API key it came with, by its current name. */
  async function history(input: { cursor?: string | undefined; limit: number; target?: string | undefined }): Promise<TConfigHistoryPage> {
    const { items, nextCursor } = await cursorPage(prisma.configAudit, input, (window) =>
      prisma.configAudit.findMany({
        where: input.target ? { target: input.target } : {},
        // Newest version first; one version's changes (an import's) together, in the order they were made.
        orderBy: [{ version: "desc" }, { seq: "asc" }],
        ...window,
      }),
    );
    const keyName = await keyNamesOf(prisma, items);
    return {
      items: items.map((r) => ({
        id: r.id,
        version: r.version,
        action: r.action,
        target: r.target,
        actorId: r.actorId,
        actorEmail: r.actorEmail,
        actorKeyId: r.actorKeyId,
        actorKeyName: r.actorKeyId ? (keyName.get(r.actorKeyId) ?? null) : null,
        changes: typeof r.changes === "object" && r.changes !== null && !Array.isArray(r.changes) ? (r.changes as Record<string, unknown>) : {},
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor,
    };
  }

  function runOperation(tx: Tx, operation: ConfigOperation, actor: ConfigActor): Promise<{ changes: Record<string, unknown> }> {
    switch (operation.op) {
      case "createProvider":
        return createProviderIn(tx, operation.input);
      case "updateProvider":
        return updateProviderIn(tx, operation.input, actor);
      case "deleteProvider":
        return deleteProviderIn(tx, operation.id);
      case "upsertModel":
        return upsertRouteIn(tx, operation.input);
      case "deleteModel":
        return deleteRouteIn(tx, operation.name);
    }
  }

  return { load, version, seedIfEmpty, createProvider, updateProvider, deleteProvider, upsertRoute, deleteRoute, applyDocument, history };
}

export type ConfigStore = ReturnType<typeof createConfigStore>;
