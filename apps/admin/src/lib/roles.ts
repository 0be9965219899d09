import type { TRole } from "@switchboard/schema";

/** Same order as the server's ROLES (kept local so zod stays out of the bundle). */
export const ROLES = ["USER", "ADMIN", "SUPERADMIN"] as const satisfies readonly TRole[];

export function roleAtLeast(role: TRole, required: TRole): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

export const ROLE_LABELS: Record<TRole, string> = {
  USER: "User",
  ADMIN: "Admin",
  SUPERADMIN: "SuperAdmin",
};
