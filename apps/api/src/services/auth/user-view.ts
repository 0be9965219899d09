import type { TBudgetPeriod, TUser } from "@switchboard/schema";
import type { User } from "../../generated/prisma/client.ts";

/** The public view of a user row: never the password hash. */
export function toUserView(user: User): TUser {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
    budgetUsd: user.budgetUsd,
    budgetPeriod: user.budgetPeriod as TBudgetPeriod,
  };
}
