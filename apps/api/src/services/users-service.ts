import { budgetPeriodStart, type TBudgetPeriod, type TUser, type TUserCreateInput, type TUserDeleteInput, type TUserUpdateInput, type TUsersListInput } from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";
import { isTransactionConflict } from "../infra/database-errors.ts";
import { boundLockWaits } from "../infra/statement-bounds.ts";
import type { AuthService } from "./auth/auth-service.ts";
import type { PasswordWork } from "./auth/password-work.ts";
import { toUserView } from "./auth/user-view.ts";
import { cursorPage } from "./cursor-page.ts";
import { AppError } from "./errors.ts";
import { likeText } from "./like-text.ts";
import { userSubject, type LoggedSpend } from "./keys/index.ts";

export interface UsersServiceDeps {
  prisma: PrismaClient;
  auth: AuthService;
  /** argon2 goes through the bounded queue shared with sign-in. */
  passwords: PasswordWork;
  /** Told when a user's access shrinks (disabled, role changed, deleted), e.g. to drop cached API keys. */
  onAccessChanged?: (userId: string) => Promise<void>;
  /** What users spent (request log and pruned rows), for the list. */
  spend: LoggedSpend;
  /** Revokes every API key of a user still in force, on every instance (users.update's revokeKeys). */
  revokeKeys: (userId: string) => Promise<number>;
}

/** What changed in an account, already written; see followAccountChange. */
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

/**
 * Tells the running system of a change to an account already written: users.update and the
 * start-up SuperAdmin recovery both go through it, so what follows a change is the same
 * whoever made it. Answers how many keys were revoked.
 */
export async function followAccountChange(
  deps: Pick<UsersServiceDeps, "auth" | "onAccessChanged" | "revokeKeys">,
  userId: string,
  change: AccountChange,
): Promise<number> {
  const { roleChanged, disabled, passwordChanged } = change;
  if (roleChanged || disabled === true || passwordChanged) {
    // Tokens carry the role and outlive a password: end every session so the change bites now.
    await deps.auth.revokeAllForUser(userId, change.reason ?? (roleChanged ? "role changed" : disabled ? "disabled" : "password reset"));
  } else if (disabled === false || change.budgetChanged) {
    // Re-enabled or budget changed: every instance re-reads the user now rather than at its next resync.
    await deps.auth.userChanged(userId);
  }
  if (roleChanged || disabled !== undefined) await deps.onAccessChanged?.(userId);
  // After the password and the sessions: keys made with a leaked one end with it, and a key
  // being made meanwhile is either committed first and revoked here, or refused because its
  // session has ended (keys.create checks it under the same row lock).
  return change.revokeKeys ? deps.revokeKeys(userId) : 0;
}

export function createUsersService(deps: UsersServiceDeps) {
  const { prisma } = deps;
  const hashPassword = (password: string) => deps.passwords.hash(password);

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

  async function update(input: TUserUpdateInput, actorId: string): Promise<TUser> {
    const existing = await prisma.user.findUnique({ where: { id: input.id } });
    if (!existing) throw new AppError("NOT_FOUND", "User not found");
    if (input.id === actorId && ((input.role && input.role !== existing.role) || input.disabled === true)) {
      // Guards against locking the fleet out: another SuperAdmin must do it.
      throw new AppError("BAD_REQUEST", "You cannot change your own role or disable yourself");
    }
    const data = {
      ...(input.role !== undefined ? { role: input.role } : {}),
      ...(input.disabled !== undefined ? { disabled: input.disabled } : {}),
      ...(input.password !== undefined ? { passwordHash: await hashPassword(input.password) } : {}),
      ...(input.budgetUsd !== undefined ? { budgetUsd: input.budgetUsd } : {}),
      ...(input.budgetPeriod !== undefined ? { budgetPeriod: input.budgetPeriod } : {}),
    };
    // The row can vanish between the read above and this write (cascade, manual cleanup).
    const user = await (takesAwaySuperAdmin(input) ? updateKeepingASuperAdmin(input.id, data) : prisma.user.update({ where: { id: input.id }, data })).catch(
      settleWriteError,
    );
    await followAccountChange(deps, user.id, {
      roleChanged: input.role !== undefined && input.role !== existing.role,
      disabled: input.disabled,
      passwordChanged: input.password !== undefined,
      budgetChanged: input.budgetUsd !== undefined || input.budgetPeriod !== undefined,
      revokeKeys: input.revokeKeys === true,
    });
    return toUserView(user);
  }

  /**
   * A change that can leave the fleet without an enabled SuperAdmin (a demotion, a disable),
   * checked after the write in a serializable transaction: two SuperAdmins demoting or
   * disabling each other at once each passed the guard above (neither changes themself), and
   * both changes landed, leaving none. Now one of them is refused.
   */
  async function updateKeepingASuperAdmin(id: string, data: Prisma.UserUpdateInput) {
    return prisma.$transaction(
      async (tx) => {
        await boundLockWaits(tx);
        const before = await tx.user.findUnique({ where: { id }, select: { role: true, disabled: true } });
        if (!before) throw new AppError("NOT_FOUND", "User not found");
        const user = await tx.user.update({ where: { id }, data });
        if (before.role === "SUPERADMIN" && !before.disabled && (await tx.user.count({ where: { role: "SUPERADMIN", disabled: false } })) === 0) {
          throw new AppError("CONFLICT", "Cannot demote or disable the last enabled SuperAdmin");
        }
        return user;
      },
      { isolationLevel: Prisma.TransactionIsolationLevel.Serializable },
    );
  }

  /**
   * Deletes a user and their data (sessions, conversations, consensus runs cascade with the
   * row). The emergency audit trail keeps the actor's id and email as plain text, so it stays
   * readable. Every instance refuses the user's tokens at once (see UserDirectory).
   */
  async function remove(input: TUserDeleteInput, actorId: string): Promise<{ id: string; deleted: true }> {
    if (input.id === actorId) throw new AppError("BAD_REQUEST", "You cannot delete yourself; another SuperAdmin must do it");
    await prisma
      .$transaction(
        async (tx) => {
          await boundLockWaits(tx);
          const target = await tx.user.findUnique({ where: { id: input.id }, select: { role: true } });
          if (!target) throw new AppError("NOT_FOUND", "User not found");
          await tx.session.updateMany({ where: { userId: input.id, revokedAt: null }, data: { revokedAt: new Date(), revokedReason: "user deleted" } });
          await tx.user.delete({ where: { id: input.id } });
          if (target.role === "SUPERADMIN") {
            // Checked after the delete, in a serializable transaction, so two SuperAdmins
            // deleting each other at once cannot leave the fleet without one.
            const left = await tx.user.count({ where: { role: "SUPERADMIN", disabled: false } });
            if (left === 0) throw new AppError("CONFLICT", "Cannot delete the last SuperAdmin");
          }
        },
        { isolationLevel: Prisma.TransactionIsolationLevel.Serializable },
      )
      .catch(settleWriteError);
    await deps.auth.userChanged(input.id);
    await deps.onAccessChanged?.(input.id);
    return { id: input.id, deleted: true as const };
  }

  return { list, create, update, remove };
}

/**
 * A user gone meanwhile is a 404; a serializable transaction that lost a race (at a statement
 * or at its commit), a conflict to retry.
 */
function settleWriteError(error: unknown): never {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025") throw new AppError("NOT_FOUND", "User not found");
  if (isTransactionConflict(error)) throw new AppError("CONFLICT", "The user changed meanwhile; try again");
  throw error;
}

/** A demotion or a disable: what may take the last enabled SuperAdmin away. */
const takesAwaySuperAdmin = (input: TUserUpdateInput) => (input.role !== undefined && input.role !== "SUPERADMIN") || input.disabled === true;

export type UsersService = ReturnType<typeof createUsersService>;
