import { ZUser, ZUserCreateInput, ZUserDeleteInput, ZUserDeleteResult, ZUserUpdateInput, ZUsersListInput, pageOf } from "@switchboard/schema";
import type { AccountActor } from "../services/users-service.ts";
import type { AuthedUser } from "../trpc/context.ts";
import { router, superAdminProcedure } from "../trpc/init.ts";

/**
 * What each containment field must hold to only take access away: disabling the user,
 * revoking their API keys, or resetting their password (every session ends, and a leaked
 * password is worth nothing). A reset hands the new password to the same account at the same
 * role, so it opens nothing the old one did not.
 */
const CONTAINS = new Map<string, (value: unknown) => boolean>([
  ["disabled", (v) => v === true],
  ["revokeKeys", (v) => v === true],
  ["password", (v) => typeof v === "string"],
]);

/**
 * {id} with one or more of those and nothing else. Anything beside them (a role, a budget,
 * disabled: false) is a change like any other and waits for the freeze, even in the same call.
 * An undefined field is no field (the input schema reads it so).
 */
const onlyContains = (raw: unknown): boolean => {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return false;
  const fields = Object.entries(raw).filter(([key, value]) => key !== "id" && value !== undefined);
  return fields.length > 0 && fields.every(([key, value]) => CONTAINS.get(key)?.(value) === true);
};

/** Who makes an account change, and with what credential (checked again under the change's lock). */
const actorOf = (user: AuthedUser): AccountActor => ({ id: user.id, sessionId: user.sessionId, keyId: user.apiKey?.keyId });

export const usersRouter = router({
  list: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZUsersListInput)
    .output(pageOf(ZUser))
    .query(({ ctx, input }) => ctx.deps.users.list(input)),

  create: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZUserCreateInput)
    .output(ZUser)
    .mutation(({ ctx, input }) => ctx.deps.users.create(input)),

  update: superAdminProcedure
    // Disabling a user, revoking their keys and resetting their password contain a leak, so
    // they stay available while frozen.
    .meta({ feature: "admin", containsLeak: onlyContains })
    .input(ZUserUpdateInput)
    .output(ZUser)
    .mutation(({ ctx, input }) => ctx.deps.users.update(input, actorOf(ctx.user))),

  delete: superAdminProcedure
    // Deleting a user contains a leak (their sessions and keys end), so it works while frozen.
    .meta({ feature: "containment" })
    .input(ZUserDeleteInput)
    .output(ZUserDeleteResult)
    .mutation(({ ctx, input }) => ctx.deps.users.remove(input, actorOf(ctx.user))),
});
