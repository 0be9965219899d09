import { z } from "zod";
import { ZRole } from "./common.ts";

export const ZEmail = z.string().trim().toLowerCase().email().max(254);
/** Login accepts any non-empty password; strength rules apply when one is set. */
export const ZLoginInput = z.object({
  email: ZEmail,
  password: z.string().min(1).max(1024),
});
export type TLoginInput = z.infer<typeof ZLoginInput>;

export const ZNewPassword = z.string().min(12, "Password must be at least 12 characters").max(1024);

export const ZUser = z.object({
  id: z.string(),
  email: z.string(),
  role: ZRole,
  disabled: z.boolean(),
  createdAt: z.string(),
  lastLoginAt: z.string().nullable(),
  /** Spending cap over all the user's metered calls (null = none), per `budgetPeriod`. */
  budgetUsd: z.number().nullable(),
  budgetPeriod: z.enum(["day", "month", "total"]),
  /** users.list only: what the user spent in their budget period so far (USD), as budgets count it. */
  spendUsd: z.number().optional(),
});
export type TUser = z.infer<typeof ZUser>;

export const ZAuthTokens = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int(),
  user: ZUser,
});
export type TAuthTokens = z.infer<typeof ZAuthTokens>;

export const ZRefreshInput = z.object({
  /** Optional: the SPA sends none and relies on the httpOnly refresh cookie. */
  refreshToken: z.string().min(1).max(4096).optional(),
});
export type TRefreshInput = z.infer<typeof ZRefreshInput>;

export const ZLogoutInput = z
  .object({ refreshToken: z.string().min(1).max(4096).optional() })
  .optional();

/** The sign-in methods a deployment offers (the sign-in page shows a button for each). */
export const ZAuthMethods = z.object({ password: z.boolean(), oidc: z.boolean(), github: z.boolean() });
export type TAuthMethods = z.infer<typeof ZAuthMethods>;
