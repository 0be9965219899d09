import { z } from "zod";
import { ZId, ZPageInput, ZRole } from "./common.ts";
import { ZEmail, ZNewPassword } from "./auth.ts";
import { ZBudgetPeriod, ZBudgetUsd } from "./keys.ts";

export const ZUsersListInput = ZPageInput.extend({
  search: z.string().trim().max(254).optional(),
}).optional();
export type TUsersListInput = z.infer<typeof ZUsersListInput>;

export const ZUserCreateInput = z.object({
  email: ZEmail,
  password: ZNewPassword,
  role: ZRole.default("USER"),
});
export type TUserCreateInput = z.infer<typeof ZUserCreateInput>;

export const ZUserUpdateInput = z
  .object({
    id: ZId,
    role: ZRole.optional(),
    disabled: z.boolean().optional(),
    password: ZNewPassword.optional(),
    /** Spending cap over all the user's metered calls; null clears it. */
    budgetUsd: ZBudgetUsd.nullable().optional(),
    budgetPeriod: ZBudgetPeriod.optional(),
    /**
     * Also revokes every API key of the user still in force (kept listed as revoked). Off by
     * default: a password reset leaves keys working, since programs rely on them; a password
     * that leaked may have made keys, so the admin may end them in the same change.
     */
    revokeKeys: z.literal(true).optional(),
  })
  .refine((v) => v.role !== undefined || v.disabled !== undefined || v.password !== undefined || v.budgetUsd !== undefined || v.budgetPeriod !== undefined || v.revokeKeys !== undefined, {
    message: "Nothing to update: give role, disabled, password, budgetUsd, budgetPeriod or revokeKeys",
  });
export type TUserUpdateInput = z.infer<typeof ZUserUpdateInput>;

export const ZUserDeleteInput = z.object({ id: ZId });
export type TUserDeleteInput = z.infer<typeof ZUserDeleteInput>;
export const ZUserDeleteResult = z.object({ id: z.string(), deleted: z.literal(true) });
