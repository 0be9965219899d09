import { ZApiKey, ZApiKeyCreated, ZKeyCreateInput, ZKeyIdInput, ZKeyUpdateInput, ZKeysListInput, pageOf } from "@switchboard/schema";
import { router, userProcedure } from "../trpc/init.ts";

/**
 * API keys: a USER manages their own, an ADMIN anyone's. No keyScope: a key cannot mint or
 * revoke keys, only a signed-in person can.
 */
export const keysRouter = router({
  create: userProcedure
    .input(ZKeyCreateInput)
    .output(ZApiKeyCreated)
    .mutation(({ ctx, input }) => ctx.deps.keys.create(ctx.user, input)),

  list: userProcedure
    .input(ZKeysListInput)
    .output(pageOf(ZApiKey))
    .query(({ ctx, input }) => ctx.deps.keys.list(ctx.user, input)),

  get: userProcedure
    .input(ZKeyIdInput)
    .output(ZApiKey)
    .query(({ ctx, input }) => ctx.deps.keys.get(ctx.user, input.id)),

  update: userProcedure
    .input(ZKeyUpdateInput)
    .output(ZApiKey)
    .mutation(({ ctx, input }) => ctx.deps.keys.update(ctx.user, input)),

  // Revoking a key contains a leak: it stays available during a freeze.
  revoke: userProcedure
    .meta({ feature: "containment" })
    .input(ZKeyIdInput)
    .output(ZApiKey)
    .mutation(({ ctx, input }) => ctx.deps.keys.revoke(ctx.user, input.id)),
});
