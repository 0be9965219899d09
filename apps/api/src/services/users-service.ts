import { budgetPeriodStart, type TBudgetPeriod, type TRole, type TUser, type TUserCreateInput, type TUserDeleteInput, type TUserUpdateInput, type TUsersListInput } from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";
import { isTransactionConflict } from "../infra/database-errors.ts";
import { boundLockWaits, LOCK_WAIT_MS, transactionBound } from "../infra/statement-bounds.ts";
import type { AuthService } from "./auth/auth-service.ts";
import type { PasswordWork } from "./auth/password-work.ts";
import { toUserView } from "./auth/user-view.ts";
import { cursorPage } from "./cursor-page.ts";
import { AppError } from "./errors.ts";
import { likeText } from "./like-text.ts";
import { SESSION_ENDED, userSubject, type LoggedSpend } from "./keys/index.ts";

/** What an account change writes besides the account's row, and whom it tells (followAccountChange). */
export interface AccountChangeDeps {
  prisma: PrismaClient;
  auth: Pick<AuthService, "endSessionsIn" | "sessionsEnded" | "userChanged">;
  /**
   * Told when a user's access shrinks (disabled, role changed, deleted, keys revoked), once
   * the change is committed: every instance drops the user's cached API keys.
   */
  onAccessChanged?: (userId: string) => Promise<void>;
  /** Revokes every API key of a user still in force, in the change's transaction (users.update's revokeKeys); answers how many. */
  revokeKeysIn: (tx: Prisma.TransactionClient, userId: string) => Promise<number>;
}

export interface UsersServiceDeps extends AccountChangeDeps {
  /** argon2 goes through the bounded queue shared with sign-in. */
  passwords: PasswordWork;
  /** What users spent (request log and pruned rows), for the list. */
  spend: LoggedSpend;
}

/** What changed in an account; see followAccountChange. */
export interface AccountChange {
  roleChanged: boolean;
  /** Set when the account was disabled (true) or enabled (false) by the change. */
  disabled?: boolean;
  passwordChanged: boolean;
  budgetChanged?: boolean;
  /** Revoke every key of the user still in force too. */
  revokeKeys?: boolean;
  /** Why its sessions end, when they do, in place of the reason the change implies. */
  reason?: string;
}

/** What writeFollowUps wrote, for announceChange. */
interface FollowUps {
  /** The sessions ended, when the change ends them. */
  endedSessions: string[] | null;
  keysRevoked: number;
}

/**
 * What follows an account change in the database, in the transaction that writes the
 * account's row (after that write): its sessions end (tokens carry the role and outlive a
 * password), and with `revokeKeys` its API keys are revoked. One transaction, so a failure
 * leaves none of it, the account's row included. A key being made meanwhile is either
 * committed first and revoked here, or refused because its session has ended (keys.create
 * checks it under the account's row lock, which this transaction takes first, see lockAccount); a
 * sign-in meanwhile either started its session first, ended here, or sees the change.
 */
async function writeFollowUps(tx: Prisma.TransactionClient, deps: AccountChangeDeps, userId: string, change: AccountChange): Promise<FollowUps> {
  const { roleChanged, disabled, passwordChanged } = change;
  const endsSessions = roleChanged || disabled === true || passwordChanged;
  const reason = change.reason ?? (roleChanged ? "role changed" : disabled ? "disabled" : "password reset");
  const endedSessions = endsSessions ? await deps.auth.endSessionsIn(tx, userId, reason) : null;
  const keysRevoked = change.revokeKeys ? await deps.revokeKeysIn(tx, userId) : 0;
  return { endedSessions, keysRevoked };
}

/** Once the change is committed (never before: an instance told of it reads the rows again): every instance hears of it. */
async function announceChange(deps: AccountChangeDeps, userId: string, change: AccountChange, written: FollowUps): Promise<void> {
  if (written.endedSessions) await deps.auth.sessionsEnded(userId, written.endedSessions);
  // Re-enabled or budget changed: every instance re-reads the user now rather than at its next resync.
  else if (change.disabled === false || change.budgetChanged) await deps.auth.userChanged(userId);
  if (change.roleChanged || change.disabled !== undefined || change.revokeKeys) await deps.onAccessChanged?.(userId);
}

/**
 * An account change made outside users.update (the start-up SuperAdmin recovery): `write`
 * writes the account's row, and answers false when it changed nothing (a condition that no
 * longer held: another instance did it first). What follows is what follows users.update's own
 * write, in the same transaction: a failure anywhere leaves none of it, the row's write
 * included, so the change can be made again. Answers how many keys were revoked, or null when
 * `write` changed nothing (nothing else is written then, and nobody told).
 */
export async function followAccountChange(
  deps: AccountChangeDeps,
  userId: string,
  change: AccountChange,
  write: (tx: Prisma.TransactionClient) => Promise<boolean>,
): Promise<number | null> {
  const written = await deps.prisma.$transaction(async (tx) => {
    await boundLockWaits(tx);
    // The row first, then its sessions and keys (see lockAccount).
    if (!(await lockAccount(tx, userId, "FOR NO KEY UPDATE")) || !(await write(tx))) return null;
    return writeFollowUps(tx, deps, userId, change);
  }, { timeout: transactionBound(deps.prisma, LOCK_WAIT_MS) });
  if (!written) return null;
  await announceChange(deps, userId, change, written);
  return written.keysRevoked;
}

/**
 * Changes that may take away the last enabled SuperAdmin (a demotion, a disable, a delete)
 * run one at a time, each holding this lock until it commits, and count the enabled
 * SuperAdmins after their own write: two SuperAdmins demoting, disabling or deleting each
 * other at once each passed the guard against changing themself, and both changes would
 * land, leaving none. The second counts after the first committed, and is refused.
 */
const SUPERADMIN_GUARD_LOCK = Prisma.sql`SELECT pg_advisory_xact_lock(hashtext('switchboard:last-superadmin'))`;

/**
 * Who makes an account change: the user, and the credential the call came with (`sessionId`
 * of a signed-in person, or `key:<id>` with `keyId` for an API key).
 */
export interface AccountActor {
  id: string;
  sessionId: string;
  keyId?: string;
}

/**
 * Under the guard's lock, before the target's row: the actor is still an enabled SuperAdmin
 * and their credential still stands (session not ended, key not revoked). The procedure
 * checked the role as the request arrived, but a change hashes a password before its
 * transaction and may wait for the guard: a demotion or disable of the actor committed
 * meanwhile would otherwise let the change land (a SuperAdmin made, with a password the
 * demoted actor knows). Every update and delete takes the guard, and so does every change
 * that takes a SuperAdmin away, so the reads after it see every such change committed before.
 * The actor's row is read under a lock: a change of it made without the guard (the start-up
 * recovery) is waited for, not read from before it lands. Locks in the order guard, actor,
 * target (only account changes take two rows, all under the guard, so no two wait on each other).
 */
async function refuseEndedActor(tx: Prisma.TransactionClient, actor: AccountActor, targetId: string): Promise<void> {
  // The actor changing their own account: the lock the change takes next, from the start (no
  // upgrade from a shared lock while another transaction queues for the row).
  const row = await lockAccount(tx, actor.id, actor.id === targetId ? "FOR NO KEY UPDATE" : "FOR SHARE");
  const stands =
    row !== null &&
    !row.disabled &&
    row.role === "SUPERADMIN" &&
    (actor.keyId !== undefined
      ? (await tx.apiKey.count({ where: { id: actor.keyId, userId: actor.id, revokedAt: null } })) > 0
      : (await tx.session.count({ where: { id: actor.sessionId, userId: actor.id, revokedAt: null } })) > 0);
  if (!stands) throw new AppError("UNAUTHORIZED", SESSION_ENDED);
}

/**
 * Locks the account's row and answers it as it is now (null when it is gone). Every account
 * change takes it first of the rows it locks (after the guard's lock, when it takes that):
 * the user's sessions and keys only after. Two changes of one user taking them in other
 * orders — one holding the row and waiting for the sessions, the other the reverse — would
 * deadlock, and PostgreSQL would fail one of them. `FOR UPDATE` for a delete; a change that
 * keeps the row's key takes the weaker lock its UPDATE takes, so rows pointing at the user
 * (sessions starting, say) are not held up by it; `FOR SHARE` for the row of who makes the
 * change, read and not written (refuseEndedActor).
 */
async function lockAccount(tx: Prisma.TransactionClient, id: string, strength: "FOR UPDATE" | "FOR NO KEY UPDATE" | "FOR SHARE") {
  const [row] = await tx.$queryRaw<Array<{ role: TRole; disabled: boolean }>>`SELECT "role"::text AS "role", "disabled" FROM "User" WHERE "id" = ${id} ${Prisma.raw(strength)}`;
  return row ?? null;
}

export function createUsersService(deps: UsersServiceDeps) {
  const { prisma } = deps;
  const hashPassword = (password: string) => deps.passwords.hash(password);
  // Waits for the guard's lock, the actor's row and the target's row, each up to LOCK_WAIT_MS.
  const CHANGE_TRANSACTION = { timeout: transactionBound(prisma, 3 * LOCK_WAIT_MS) };

  async function list(input: TUsersListInput): Promise<{ items: TUser[]; nextCursor: string | null }> {
    const limit = input?.limit ?? 20;
    const page = await cursorPage(prisma.user, { cursor: input?.cursor, limit }, (window) =>
      prisma.user.findMany({
        where: input?.search ? { email: { contains: likeText(input.search), mode: "insensitive" } } : {},
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        ...window,
      }),
    );
    const spent = await deps.spend.ofSubjects(page.items.map((u) => ({ subject: userSubject(u.id), from: budgetPeriodStart(u.budgetPeriod as TBudgetPeriod) })));
    const items = page.items.map((u) => ({ ...toUserView(u), spendUsd: spent.get(userSubject(u.id))?.period ?? 0 }));
    return { items, nextCursor: page.nextCursor };
  }

  async function create(input: TUserCreateInput): Promise<TUser> {
    try {
      const user = await prisma.user.create({
        data: { email: input.email, passwordHash: await hashPassword(input.password), role: input.role },
      });
      return toUserView(user);
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
        throw new AppError("CONFLICT", `A user with email ${input.email} already exists`);
      }
      throw error;
    }
  }

  async function update(input: TUserUpdateInput, actor: AccountActor): Promise<TUser> {
    // Hashed before the transaction: no row is held while argon2 works.
    const passwordHash = input.password !== undefined ? await hashPassword(input.password) : undefined;
    const data = {
      ...(input.role !== undefined ? { role: input.role } : {}),
      ...(input.disabled !== undefined ? { disabled: input.disabled } : {}),
      ...(passwordHash !== undefined ? { passwordHash } : {}),
      ...(input.budgetUsd !== undefined ? { budgetUsd: input.budgetUsd } : {}),
      ...(input.budgetPeriod !== undefined ? { budgetPeriod: input.budgetPeriod } : {}),
    };
    // The row, its sessions and its keys in one transaction: a failure midway changes nothing
    // (a new password with the old keys still acting, say), and the call can be sent again.
    const { user, change, written } = await prisma
      .$transaction(async (tx) => {
        await boundLockWaits(tx);
        // Every update takes the guard, not only one that takes a SuperAdmin away: the actor is
        // checked under it (refuseEndedActor).
        await tx.$executeRaw(SUPERADMIN_GUARD_LOCK);
        await refuseEndedActor(tx, actor, input.id);
        const guarded = takesAwaySuperAdmin(input);
        // What the call changes is worked out from the row as it is under its lock, never from
        // a read before: a promotion committed in between would make a demotion look like no
        // change of role, and the SuperAdmin sessions started since would outlive it.
        const before = await lockAccount(tx, input.id, "FOR NO KEY UPDATE");
        if (!before) throw new AppError("NOT_FOUND", "User not found");
        if (input.id === actor.id && ((input.role && input.role !== before.role) || input.disabled === true)) {
          // Guards against locking the fleet out: another SuperAdmin must do it.
          throw new AppError("BAD_REQUEST", "You cannot change your own role or disable yourself");
        }
        const change: AccountChange = {
          roleChanged: input.role !== undefined && input.role !== before.role,
          disabled: input.disabled,
          passwordChanged: input.password !== undefined,
          budgetChanged: input.budgetUsd !== undefined || input.budgetPeriod !== undefined,
          revokeKeys: input.revokeKeys === true,
        };
        const user = await tx.user.update({ where: { id: input.id }, data });
        // Counted after its own write, under the guard's lock (see SUPERADMIN_GUARD_LOCK).
        if (guarded && before.role === "SUPERADMIN" && !before.disabled && (await tx.user.count({ where: { role: "SUPERADMIN", disabled: false } })) === 0) {
          throw new AppError("CONFLICT", "Cannot demote or disable the last enabled SuperAdmin");
        }
        return { user, change, written: await writeFollowUps(tx, deps, user.id, change) };
      }, CHANGE_TRANSACTION)
      .catch(settleWriteError);
    await announceChange(deps, user.id, change, written);
    return toUserView(user);
  }

  /**
   * Deletes a user and their data (sessions, conversations, consensus runs cascade with the
   * row). The emergency audit trail keeps the actor's id and email as plain text, so it stays
   * readable. Every instance refuses the user's tokens at once (see UserDirectory).
   */
  async function remove(input: TUserDeleteInput, actor: AccountActor): Promise<{ id: string; deleted: true }> {
    if (input.id === actor.id) throw new AppError("BAD_REQUEST", "You cannot delete yourself; another SuperAdmin must do it");
    await prisma
      .$transaction(async (tx) => {
        await boundLockWaits(tx);
        await tx.$executeRaw(SUPERADMIN_GUARD_LOCK);
        await refuseEndedActor(tx, actor, input.id);
        const target = await lockAccount(tx, input.id, "FOR UPDATE");
        if (!target) throw new AppError("NOT_FOUND", "User not found");
        // Its sessions go with the row (cascade), under its lock; every instance refuses their
        // tokens once told below that the user is gone.
        await tx.user.delete({ where: { id: input.id } });
        if (target.role === "SUPERADMIN") {
          // Counted after the delete, under the guard's lock: two SuperAdmins deleting each
          // other at once cannot leave the fleet without one.
          const left = await tx.user.count({ where: { role: "SUPERADMIN", disabled: false } });
          if (left === 0) throw new AppError("CONFLICT", "Cannot delete the last SuperAdmin");
        }
      }, CHANGE_TRANSACTION)
      .catch(settleWriteError);
    await deps.auth.userChanged(input.id);
    await deps.onAccessChanged?.(input.id);
    return { id: input.id, deleted: true as const };
  }

  return { list, create, update, remove };
}

/**
 * A user gone meanwhile is a 404; a transaction that lost a race (a deadlock), a conflict to
 * retry.
 */
function settleWriteError(error: unknown): never {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025") throw new AppError("NOT_FOUND", "User not found");
  if (isTransactionConflict(error)) throw new AppError("CONFLICT", "The user changed meanwhile; try again");
  throw error;
}

/** A demotion or a disable: what may take the last enabled SuperAdmin away. */
const takesAwaySuperAdmin = (input: TUserUpdateInput) => (input.role !== undefined && input.role !== "SUPERADMIN") || input.disabled === true;

export type UsersService = ReturnType<typeof createUsersService>;
