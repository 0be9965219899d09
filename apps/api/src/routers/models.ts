import { ZModelChangeResult, ZModelDeleteInput, ZModelListInput, ZModelPage, ZModelUpsertInput } from "@switchboard/schema";
import { router, superAdminProcedure, userProcedure } from "../trpc/init.ts";

/** Model routes: public model names → ordered, weighted provider targets, with prices. */
export const modelsRouter = router({
  list: userProcedure
    .meta({ feature: "admin-read", keyScope: "models" })
    .input(ZModelListInput)
    .output(ZModelPage)
    .query(({ ctx, input }) => ctx.deps.gateway.config.listModels(input)),

  upsert: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZModelUpsertInput)
    .output(ZModelChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.upsertModel({ id: ctx.user.id, email: ctx.user.email }, input)),

  delete: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZModelDeleteInput)
    .output(ZModelChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.deleteModel({ id: ctx.user.id, email: ctx.user.email }, input.name)),
});
