/**
 * API keys: management (create, list, update, revoke) and the per-request side
 * (authenticate from the local cache, admit under the key's rate limit and budget, note
 * last use in batches). Callers pass the acting user; a USER sees and changes only their
 * own keys (another user's key is "not found", so ids do not leak), an ADMIN anyone's.
 */
import { budgetPeriodStart, roleAtLeast, type TKeyScope, type TApiKey, type TBudgetPeriod, type TApiKeyCreated, type TKeyCreateInput, type TKeyUpdateInput, type TKeysListInput, type TRole } from "@switchboard/schema";
import type { Prisma, PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { boundLockWaits, LOCK_WAIT_MS, transactionBound } from "../../infra/statement-bounds.ts";
import { cursorPage } from "../cursor-page.ts";
import { AppError } from "../errors.ts";
import type { KeyCache, KeyChange } from "./key-cache.ts";
import type { KeyGrant } from "./key-grant.ts";
import { hashKey, isWellFormedKey, newKeySecret } from "./key-secret.ts";
import type { LoggedSpend, SpendFigures } from "./logged-spend.ts";
import { holdUntilEnd, rowTags, type RequestScope } from "../../infra/request-scope.ts";
import { keySubject, tagSubject, userSubject, type SpendHold, type SpendLedger, type SpendSubject } from "./spend-ledger.ts";
import type { TagBudgets } from "./tag-budgets.ts";
import { DEFAULT_KEY_SCOPES, KEY_LIMITS } from "@switchboard/schema";

export interface Actor {
  id: string;
  role: TRole;
}

export interface RateLimitInfo {
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** Owners' live state, held locally and pushed (the same directory that checks access tokens). */
export interface OwnerDirectory {
  get(userId: string): Promise<{ role: TRole; disabled: boolean; budgetUsd: number | null; budgetPeriod: TBudgetPeriod } | null>;
  /** Hears of each user changed (a budget set, cleared or given another period among them); returns the unsubscribe. */
  onChanged(listener: (userId: string) => void): () => void;
}

/** A spending cap: a key's or a user's, enforced by the same ledger. */
interface Budget {
  budgetUsd: number | null;
  budgetPeriod: TBudgetPeriod;
}

export interface KeysServiceDeps {
  prisma: PrismaClient;
  owners: OwnerDirectory;
  coordination: Coordination;
  cache: KeyCache;
  spend: SpendLedger;
  logged: LoggedSpend;
  tagBudgets: TagBudgets;
  log: (msg: string, err?: unknown) => void;
  lastUsedFlushMs?: number;
}

const LAST_USED_FLUSH_MS = 5000;
/** A key asked for by a session that ended (or whose user was disabled or re-roled) while the request was under way. */
export const SESSION_ENDED = "Your session has ended; sign in again";

const KEY_INCLUDE = { user: { select: { id: true, email: true, role: true } } } as const;

/** The part of the client that key writes use: the client itself, or a transaction's. */
type KeysTx = Pick<PrismaClient, "apiKey">;

type KeyRow = NonNullable<Awaited<ReturnType<PrismaClient["apiKey"]["findFirst"]>>> & {
  user: { id: string; email: string; role: TRole };
};

export function createKeysService(deps: KeysServiceDeps) {
  const { prisma, cache, spend } = deps;
  const usedSince = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  async function spendOf(rows: KeyRow[]): Promise<Map<string, SpendFigures>> {
    const spent = await deps.logged.ofSubjects(rows.map((r) => ({ subject: keySubject(r.id), from: budgetPeriodStart(r.budgetPeriod as TApiKey["budgetPeriod"]) })));
    return new Map(rows.map((r) => [r.id, spent.get(keySubject(r.id)) ?? { total: 0, period: 0, requests: 0 }]));
  }

  function view(row: KeyRow, s: SpendFigures): TApiKey {
    return {
      id: row.id,
      prefix: row.prefix,
      name: row.name,
      owner: { id: row.user.id, email: row.user.email, role: row.user.role },
      scopes: row.scopes as TApiKey["scopes"],
      models: row.models,
      tags: row.tags,
      rateLimitPerMin: row.rateLimitPerMin,
      budgetUsd: row.budgetUsd,
      budgetPeriod: row.budgetPeriod as TApiKey["budgetPeriod"],
      expiresAt: row.expiresAt?.toISOString() ?? null,
      revokedAt: row.revokedAt?.toISOString() ?? null,
      lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
      createdAt: row.createdAt.toISOString(),
      spendUsd: s.period,
      totalSpendUsd: s.total,
      requests: s.requests,
    };
  }

  /**
   * `write:config` lets a program change providers and model routes (and so where every
   * request goes): only a SuperAdmin gives it, only to a SuperAdmin's key, and only a
   * SuperAdmin changes a key that has it (anyone who may see it may revoke it) — an ADMIN
   * must not revive or widen one. Its owner demoted, the key acts with the new role.
   */
  function refuseConfigScope(actor: Actor, ownerRole: TRole, scopes: readonly TKeyScope[] | undefined, had: readonly TKeyScope[] = []): void {
    if (had.includes("write:config")) {
      if (actor.role !== "SUPERADMIN") throw new AppError("FORBIDDEN", 'A key with scope "write:config" is changed only by a SuperAdmin (revoke it instead)');
      return;
    }
    if (scopes?.includes("write:config") && (actor.role !== "SUPERADMIN" || ownerRole !== "SUPERADMIN")) {
      throw new AppError("FORBIDDEN", 'Scope "write:config" is given only by a SuperAdmin, to a SuperAdmin\'s key');
    }
  }

  /**
   * A tag whose budget is kept to the keys that carry it (`keysOnly`) is given to a key only by
   * who sets budgets: anyone else putting it on a key of their own would be on the team, free to
   * spend or exhaust its budget. `had`: the tags the key carries already (kept, or taken off
   * under their own rule in update).
   */
  function refuseReservedKeyTags(actor: Actor, tags: readonly string[] | undefined, had: readonly string[] = []): void {
    if (!tags || actor.role === "SUPERADMIN") return;
    const given = deps.tagBudgets.of(tags.filter((tag) => !had.includes(tag))).find((budget) => budget.keysOnly);
    if (given) throw new AppError("FORBIDDEN", `Tag "${given.tag}" has a budget kept to the keys that carry it: only a SuperAdmin gives it to a key`);
  }

  /** The key if the actor may see it; "not found" otherwise (a USER and another's key). */
  async function visible(actor: Actor, id: string): Promise<KeyRow> {
    const row = (await prisma.apiKey.findUnique({ where: { id }, include: KEY_INCLUDE })) as KeyRow | null;
    if (!row || (row.userId !== actor.id && !roleAtLeast(actor.role, "ADMIN"))) throw new AppError("NOT_FOUND", "API key not found");
    return row;
  }

  /**
   * Runs `work` if the owner has room for one more active key (KEY_LIMITS; `except`: the key
   * being given a new life, not counted), with the owner's row locked so that two at once
   * cannot both take the last place. `ownerGone`: the refusal when the owner no longer exists.
   *
   * `signedIn`: the session the key is made with, which must still stand under that lock (not
   * revoked, its user enabled and in the role it signed in with). The caller's access token was
   * checked when the request arrived; a password reset, disable or demotion that landed since
   * ended the session, and a key made after it would outlive the change meant to shut that
   * session out. The reads come after the lock is granted, so they see every change committed
   * before; and revokeAllIn takes the same lock, so a key this check let through is committed
   * before the revocation reads the keys, and revoked with them. Either the key exists when the
   * change goes on, or the change is seen here and the key refused — as a sign-in starts a
   * session only if the account is still as its password check read it.
   */
  async function withKeyPlace<T>(
    place: { ownerId: string; except?: string; ownerGone: () => AppError; signedIn?: { sessionId: string; role: TRole } },
    work: (tx: KeysTx) => Promise<T>,
  ): Promise<T> {
    const { ownerId, signedIn } = place;
    return prisma.$transaction(async (tx) => {
      await boundLockWaits(tx);
      // One statement takes the lock; the reads after it see every change committed before it was granted.
      const [owner] = await tx.$queryRaw<Array<{ disabled: boolean; role: TRole }>>`SELECT "disabled", "role"::text AS "role" FROM "User" WHERE "id" = ${ownerId} FOR NO KEY UPDATE`;
      if (!owner) throw place.ownerGone();
      if (signedIn) {
        const open = owner.disabled || owner.role !== signedIn.role ? 0 : await tx.session.count({ where: { id: signedIn.sessionId, userId: ownerId, revokedAt: null } });
        if (open === 0) throw new AppError("UNAUTHORIZED", SESSION_ENDED);
      }
      const active = await tx.apiKey.count({
        where: { userId: ownerId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }], ...(place.except ? { id: { not: place.except } } : {}) },
      });
      if (active >= KEY_LIMITS.maxActivePerUser) {
        throw new AppError("CONFLICT", `The owner already holds ${active} active API keys, the most one user may hold (${KEY_LIMITS.maxActivePerUser}); revoke one no longer used first`);
      }
      return work(tx);
    }, { timeout: transactionBound(prisma, LOCK_WAIT_MS) });
  }

  /**
   * A key of the caller's own: made only by a signed-in person (`sessionId`: their session),
   * never for another user, so a user whose keys were revoked gets a new one only from a
   * session still standing (see withKeyPlace).
   */
  async function create(actor: Actor & { email: string; sessionId: string }, input: TKeyCreateInput): Promise<TApiKeyCreated> {
    refuseConfigScope(actor, actor.role, input.scopes);
    refuseReservedKeyTags(actor, input.tags);
    const secret = newKeySecret();
    const ownerGone = () => new AppError("UNAUTHORIZED", "Your account no longer exists");
    const signedIn = { sessionId: actor.sessionId, role: actor.role };
    const row = await withKeyPlace({ ownerId: actor.id, ownerGone, signedIn }, async (tx) =>
      (await tx.apiKey.create({
        data: {
          userId: actor.id,
          name: input.name,
          prefix: secret.prefix,
          keyHash: secret.hash,
          scopes: input.scopes ? [...new Set(input.scopes)] : [...DEFAULT_KEY_SCOPES],
          models: input.models ? [...new Set(input.models)] : [],
          tags: input.tags ? [...new Set(input.tags)] : [],
          rateLimitPerMin: input.rateLimitPerMin ?? null,
          budgetUsd: input.budgetUsd ?? null,
          budgetPeriod: input.budgetPeriod ?? "month",
          expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
        },
        include: KEY_INCLUDE,
      })) as KeyRow,
    );
    return { ...view(row, { total: 0, period: 0, requests: 0 }), key: secret.key };
  }

  async function list(actor: Actor, input: TKeysListInput): Promise<{ items: TApiKey[]; nextCursor: string | null }> {
    const limit = input?.limit ?? 20;
    const admin = roleAtLeast(actor.role, "ADMIN");
    const where = {
      ...(admin ? (input?.userId ? { userId: input.userId } : {}) : { userId: actor.id }),
      ...(input?.includeRevoked ? {} : { revokedAt: null }),
    };
    const page = await cursorPage(prisma.apiKey, { cursor: input?.cursor, limit, within: admin ? undefined : { userId: actor.id } }, async (window) =>
      (await prisma.apiKey.findMany({ where, include: KEY_INCLUDE, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...window })) as KeyRow[],
    );
    const spends = await spendOf(page.items);
    return { items: page.items.map((r) => view(r, spends.get(r.id)!)), nextCursor: page.nextCursor };
  }

  async function get(actor: Actor, id: string): Promise<TApiKey> {
    const row = await visible(actor, id);
    return view(row, (await spendOf([row])).get(row.id)!);
  }

  async function update(actor: Actor, input: TKeyUpdateInput): Promise<TApiKey> {
    const existing = await visible(actor, input.id);
    if (existing.revokedAt) throw new AppError("CONFLICT", "API key is revoked");
    refuseConfigScope(actor, existing.user.role, input.scopes, existing.scopes as TKeyScope[]);
    // A budgeted tag on a key binds it to the tag's budget: only who sets budgets takes it off.
    const dropped = input.tags === undefined ? [] : existing.tags.filter((tag) => !input.tags!.includes(tag));
    const budgeted = deps.tagBudgets.of(dropped);
    if (budgeted.length > 0 && actor.role !== "SUPERADMIN") {
      throw new AppError("FORBIDDEN", `Tag "${budgeted[0]!.tag}" has a budget: only a SuperAdmin takes it off a key`);
    }
    refuseReservedKeyTags(actor, input.tags, existing.tags);
    // A new expiry may give an expired key a new life: one more active key, which needs a
    // place like a new one (whether it had expired is judged under the lock, by the count).
    const newExpiry = input.expiresAt !== undefined;
    const write = (tx: KeysTx) => tx.apiKey.update({
      where: { id: input.id },
      data: {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt === null ? null : new Date(input.expiresAt) } : {}),
        ...(input.scopes !== undefined ? { scopes: [...new Set(input.scopes)] } : {}),
        ...(input.models !== undefined ? { models: [...new Set(input.models)] } : {}),
        ...(input.tags !== undefined ? { tags: [...new Set(input.tags)] } : {}),
        ...(input.rateLimitPerMin !== undefined ? { rateLimitPerMin: input.rateLimitPerMin } : {}),
        ...(input.budgetUsd !== undefined ? { budgetUsd: input.budgetUsd } : {}),
        ...(input.budgetPeriod !== undefined ? { budgetPeriod: input.budgetPeriod } : {}),
      },
      include: KEY_INCLUDE,
    });
    const place = { ownerId: existing.userId, except: existing.id, ownerGone: () => new AppError("NOT_FOUND", "API key not found") };
    const row = (await (newExpiry ? withKeyPlace(place, write) : write(prisma))) as KeyRow;
    // Every instance reads the key's spend again (cache.onChanged below): while it had no
    // budget its spend was not counted, and a new period starts a new figure.
    await cache.publish({ keyId: row.id });
    return view(row, (await spendOf([row])).get(row.id)!);
  }

  async function revoke(actor: Actor, id: string): Promise<TApiKey> {
    await visible(actor, id);
    await prisma.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
    // After the write: an instance that reloads on the push reads the revoked row.
    await cache.publish({ keyId: id });
    return get(actor, id);
  }

  /**
   * Revokes every key of a user still in force (an admin's choice with a password reset: a
   * leaked password could have made keys); answers how many. As revoke, each stays listed,
   * revoked and when. In the transaction that writes the account change (users-service.ts),
   * whose caller, once it commits, tells every instance with userChanged: an instance that
   * reloads on the push reads the revoked rows, drops every key of the user it holds, and
   * ends the streams those keys started.
   */
  async function revokeAllIn(tx: Pick<Prisma.TransactionClient, "$queryRaw" | "apiKey">, userId: string): Promise<number> {
    // Under the owner's row lock, which a key being made holds until it is committed: a key
    // written meanwhile is committed first and revoked here, never missed by this UPDATE.
    await tx.$queryRaw`SELECT 1 FROM "User" WHERE "id" = ${userId} FOR NO KEY UPDATE`;
    return (await tx.apiKey.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date() } })).count;
  }

  /** The grant of a presented secret, or null (malformed, unknown, revoked, expired, owner disabled). */
  async function authenticate(secret: string): Promise<KeyGrant | null> {
    if (!isWellFormedKey(secret)) return null;
    const held = await cache.lookup(hashKey(secret));
    if (!held) return null;
    // The owner's current state: a disabled or deleted owner's keys stop, and a key never
    // acts with more than the owner's role today.
    const owner = await deps.owners.get(held.userId);
    if (!owner || owner.disabled) return null;
    const grant = owner.role === held.role ? held : { ...held, role: owner.role };
    usedSince.add(grant.keyId);
    return grant;
  }

  /**
   * The role a key acts with now, or null when it no longer acts (revoked, expired, deleted,
   * owner disabled or gone). Reads the key's row: for re-checking what a key authorized after
   * a change was announced, never on a request's path.
   */
  async function liveRole(keyId: string): Promise<TRole | null> {
    const row = await prisma.apiKey.findUnique({ where: { id: keyId }, select: { userId: true, revokedAt: true, expiresAt: true } });
    if (!row || row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt.getTime() <= Date.now())) return null;
    const owner = await deps.owners.get(row.userId);
    return owner && !owner.disabled ? owner.role : null;
  }

  /**
   * A place in flight under a budget (spend-ledger.ts), or the refusal: the period's budget
   * is spent (not worth retrying), or the requests already in flight could spend it (retry
   * in a moment, once they have ended and their cost is known). `shared`: a budget others run
   * under too (a tag's), whose figures are not told to whoever sent the request.
   */
  async function holdBudget(subject: SpendSubject, budget: Budget & { budgetUsd: number }, what: string, shared = false): Promise<SpendHold> {
    const admission = await spend.admit(subject, budget.budgetPeriod, budget.budgetUsd);
    if (admission.admitted) return admission.hold;
    const window = budget.budgetPeriod === "total" ? "in total" : `this ${budget.budgetPeriod}`;
    const spent = shared ? `spent ${window}` : `spent $${admission.spent.toFixed(4)} of $${budget.budgetUsd} ${window}`;
    if (admission.reason === "exhausted") {
      throw new AppError("TOO_MANY_REQUESTS", `${what} budget exhausted: ${spent}`, { details: { openaiCode: "insufficient_quota", shouldRetry: false } });
    }
    throw new AppError("TOO_MANY_REQUESTS", `${what} budget nearly spent (${spent}): one request at a time until the one in flight has ended`, {
      retryAfterSec: 1,
      details: { openaiCode: "rate_limit_exceeded" },
    });
  }

  /**
   * Counts a request against the key's rate limit across instances (none without one);
   * returns the figures for x-ratelimit-* headers, or refuses past the limit.
   */
  async function countRequest(grant: KeyGrant): Promise<RateLimitInfo | undefined> {
    if (grant.rateLimitPerMin === null) return undefined;
    const r = await deps.coordination.consumeLeased(`keys:rate:${grant.keyId}`, grant.rateLimitPerMin, 60_000);
    const info = { limit: grant.rateLimitPerMin, remaining: r.remaining, resetMs: r.resetMs };
    if (!r.allowed) {
      throw new AppError("TOO_MANY_REQUESTS", `API key rate limit reached (${grant.rateLimitPerMin} requests per minute)`, {
        retryAfterSec: Math.max(1, Math.ceil(r.retryAfterMs / 1000)),
        details: { openaiCode: "rate_limit_exceeded", rateLimit: info },
      });
    }
    return info;
  }

  /**
   * Admits a metered request (model calls) by a user, with or without an API key: the
   * user's budget, the budget of each tag the request carries, then the key's budget and its
   * rate limit across instances. Returns the rate-limit figures for x-ratelimit-* headers.
   * Each budget the request runs under holds its place in flight on `scope` until the request
   * ends and its cost is settled (settleBudgetHolds); without a scope (a call outside any
   * request) nothing is booked, so the budgets are only checked (and no tags are known).
   */
  async function admit(userId: string, grant?: KeyGrant, scope?: RequestScope): Promise<RateLimitInfo | undefined> {
    const holds: SpendHold[] = [];
    try {
      refuseReservedTags(scope);
      const owner = await deps.owners.get(userId);
      if (owner && owner.budgetUsd !== null) holds.push(await holdBudget(userSubject(userId), { ...owner, budgetUsd: owner.budgetUsd }, "User"));
      // The tags the request's row will carry: its key's and its own.
      for (const budget of scope ? deps.tagBudgets.of(rowTags(scope)) : []) {
        holds.push(await holdBudget(tagSubject(budget.tag), budget, `Tag "${budget.tag}"`, true));
      }
      if (!grant) return undefined;
      if (grant.budgetUsd !== null) holds.push(await holdBudget(keySubject(grant.keyId), { ...grant, budgetUsd: grant.budgetUsd }, "API key"));
      return await countRequest(grant);
    } catch (error) {
      for (const hold of holds.splice(0)) hold.release(undefined);
      throw error;
    } finally {
      if (scope) holdUntilEnd(scope, holds);
      else for (const hold of holds) hold.release(undefined);
    }
  }

  /**
   * Refuses a request that carries a tag whose budget is for the API keys carrying it
   * (`keysOnly`) without being made with one: it may not spend the team's budget (admit), nor
   * be logged and counted under the team's tag when it spends nothing (a model list, a read).
   * The refused request's own row leaves those tags out (scope.refusedTags).
   */
  function refuseReservedTags(scope: RequestScope | undefined): void {
    if (!scope?.tags?.length) return;
    const refused = deps.tagBudgets.of(scope.tags).filter((budget) => budget.keysOnly && !scope.keyTags?.includes(budget.tag));
    if (refused.length === 0) return;
    scope.refusedTags = refused.map((budget) => budget.tag);
    throw new AppError("FORBIDDEN", `Tag "${refused[0]!.tag}" is charged only by the API keys that carry it; send the request with one, or without the tag`);
  }

  async function flushLastUsed(): Promise<void> {
    if (usedSince.size === 0) return;
    const ids = [...usedSince];
    usedSince.clear();
    await prisma.apiKey.updateMany({ where: { id: { in: ids } }, data: { lastUsedAt: new Date() } });
  }

  return {
    create,
    list,
    get,
    update,
    revoke,
    revokeAllIn,
    authenticate,
    liveRole,
    /** Hears of every change to a key, or to all of a user's keys, seen on this instance. */
    onChanged: (listener: (change: KeyChange) => void) => cache.onChanged(listener),
    admit,
    countRequest,
    /** Before any other check of a caller's request (admit checks it too): see refuseReservedTags. */
    refuseReservedTags,
    /** What a request cost, budgeted or not: budgets price the requests in flight at the day's costliest. */
    notePrice: (costUsd: number) => spend.notePrice(costUsd),
    /** Drops everything held about a user's keys on every instance (disabled, deleted, role changed). */
    userChanged: (userId: string) => cache.publish({ userId }),
    /** Budgets on tags (tagBudgets.*): listed, set and removed here, enforced by admit. */
    tagBudgets: { list: deps.tagBudgets.list, set: deps.tagBudgets.set, remove: deps.tagBudgets.remove },
    async start(): Promise<void> {
      // A key changed anywhere has its spend read again here when next needed (see update).
      cache.onChanged((change) => {
        if ("keyId" in change) spend.forget(keySubject(change.keyId));
      });
      // The same for a user's budget: what they spent while it had none is read again.
      deps.owners.onChanged((userId) => spend.forget(userSubject(userId)));
      await cache.start();
      await spend.start();
      await deps.tagBudgets.start();
      timer = setInterval(() => {
        flushLastUsed().catch((err: unknown) => deps.log("last-used update failed", err));
      }, deps.lastUsedFlushMs ?? LAST_USED_FLUSH_MS);
      timer.unref();
    },
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      await flushLastUsed().catch(() => {});
      await cache.close();
      await spend.close();
      await deps.tagBudgets.close();
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
