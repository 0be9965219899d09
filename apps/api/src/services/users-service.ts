import type { TUser, TUserCreateInput, TUserUpdateInput, TUsersListInput } from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";
import type { AuthService } from "./auth/auth-service.ts";
import { hashPassword } from "./auth/passwords.ts";
import { toUserView } from "./auth/user-view.ts";
import { AppError } from "./errors.ts";

export interface UsersServiceDeps {
  prisma: PrismaClient;
  auth: AuthService;
  /** Told when a user's access shrinks (disabled, role changed), e.g. to drop cached API keys. */
  onAccessChanged?: (userId: string) => Promise<void>;
}

export function createUsersService(deps: UsersServiceDeps) {
  const { prisma } = deps;

  async function list(input: TUsersListInput): Promise<{ items: TUser[]; nextCursor: string | null }> {
    const limit = input?.limit ?? 20;
    const rows = await prisma.user.findMany({
      where: input?.search ? { email: { contains: input.search, mode: "insensitive" } } : {},
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: limit + 1,
      ...(input?.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
    });
    const page = rows.slice(0, limit);
    return { items: page.map(toUserView), nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
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
    };
    // The row can vanish between the read above and this write (cascade, manual cleanup).
    const user = await prisma.user.update({ where: { id: input.id }, data }).catch((error: unknown) => {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025") {
        throw new AppError("NOT_FOUND", "User not found");
      }
      throw error;
    });
    const roleChanged = input.role !== undefined && input.role !== existing.role;
    if (roleChanged || input.disabled === true || input.password !== undefined) {
      // Tokens carry the role and outlive a password: end every session so the change bites now.
      await deps.auth.revokeAllForUser(user.id, roleChanged ? "role changed" : input.disabled ? "disabled" : "password reset");
    }
    if (roleChanged || input.disabled !== undefined) await deps.onAccessChanged?.(user.id);
    return toUserView(user);
  }

  return { list, create, update };
}

export type UsersService = ReturnType<typeof createUsersService>;
