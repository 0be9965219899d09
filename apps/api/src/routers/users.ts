import { ZUser, ZUserCreateInput, ZUserDeleteInput, ZUserDeleteResult, ZUserUpdateInput, ZUsersListInput, pageOf } from "@switchboard/schema";
import { router, superAdminProcedure } from "../trpc/init.ts";

/** {id, disabled: true} and nothing else. */
const onlyDisables = (raw: unknown): boolean => {
  if (raw === null || typeof raw !== "object") return false;
  const keys = Object.keys(raw);
  return (raw as { disabled?: unknown }).disabled === true && keys.every((k) => k === "id" || k === "disabled");
};

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
    // Disabling a user contains a leak, so it stays available while frozen.
    .meta({ feature: "admin", containsLeak: onlyDisables })
    .input(ZUserUpdateInput)
    .output(ZUser)
    .mutation(({ ctx, input }) => ctx.deps.users.update(input, ctx.user.id)),

  delete: superAdminProcedure
    // Deleting a user contains a leak (their sessions and keys end), so it works while frozen.
    .meta({ feature: "containment" })
    .input(ZUserDeleteInput)
    .output(ZUserDeleteResult)
    .mutation(({ ctx, input }) => ctx.deps.users.remove(input, ctx.user.id)),
});
