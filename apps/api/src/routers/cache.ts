import { ZCachePurgeInput, ZCachePurgeResult, ZCachePurgesInput, ZCachePurgesPage } from "@switchboard/schema";
import { adminProcedure, router, userProcedure } from "../trpc/init.ts";

/** The response cache as an operator's tool. */
export const cacheRouter = router({
  /** Forgets kept answers on every instance: your own; an ADMIN signed in, another user's or everyone's. Each purge is recorded. */
  purge: userProcedure
    .meta({ feature: "admin", keyScope: "chat" })
    .input(ZCachePurgeInput)
    .output(ZCachePurgeResult)
    .mutation(({ ctx, input }) => ctx.deps.chat.purgeCache({ id: ctx.user.id, email: ctx.user.email, role: ctx.user.role, keyId: ctx.user.apiKey?.keyId }, input)),

  /** The record of purges, newest first: who (signed in or with which API key), whose answers, the purge time that holds. */
  purges: adminProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .input(ZCachePurgesInput)
    .output(ZCachePurgesPage)
    .query(({ ctx, input }) => ctx.deps.chat.cachePurges({ cursor: input?.cursor, limit: input?.limit ?? 20 })),
});
