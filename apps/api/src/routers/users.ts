import { ZUser, ZUserCreateInput, ZUserDeleteInput, ZUserDeleteResult, ZUserUpdateInput, ZUsersListInput, pageOf } from "@switchboard/schema";
import { router, superAdminProcedure } from "../trpc/init.ts";

export const usersRouter = router({
  list: superAdminProcedure
    .input(ZUsersListInput)
    .output(pageOf(ZUser))
    .query(({ ctx, input }) => ctx.deps.users.list(input)),

  create: superAdminProcedure
    .input(ZUserCreateInput)
    .output(ZUser)
    .mutation(({ ctx, input }) => ctx.deps.users.create(input)),

  update: superAdminProcedure
    .input(ZUserUpdateInput)
    .output(ZUser)
    .mutation(({ ctx, input }) => ctx.deps.users.update(input, ctx.user.id)),

  delete: superAdminProcedure
    .input(ZUserDeleteInput)
    .output(ZUserDeleteResult)
    .mutation(({ ctx, input }) => ctx.deps.users.remove(input, ctx.user.id)),
});
