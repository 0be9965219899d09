import { ZModelChangeResult, ZModelDeleteInput, ZModelListInput, ZModelPage, ZModelUpsertInput } from "@switchboard/schema";
import { configActorOf } from "../trpc/context.ts";
import { router, superAdminProcedure, userProcedure } from "../trpc/init.ts";

/**
 * Model routes: public model names → ordered, weighted provider targets, with prices. A
 * SuperAdmin's API key with `write:config` reads and changes them (configuration as code).
 */
export const modelsRouter = router({
  list: userProcedure
    .meta({ feature: "admin-read", keyScope: ["models", "write:config"] })
    .input(ZModelListInput)
    .output(ZModelPage)
    .query(({ ctx, input }) => ctx.deps.gateway.config.listModels(input)),

  upsert: superAdminProcedure
    .meta({ feature: "admin", keyScope: "write:config" })
    .input(ZModelUpsertInput)
    .output(ZModelChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.upsertModel(configActorOf(ctx.user), input)),

  delete: superAdminProcedure
    .meta({ feature: "admin", keyScope: "write:config" })
    .input(ZModelDeleteInput)
    .output(ZModelChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.deleteModel(configActorOf(ctx.user), input.name)),
});
