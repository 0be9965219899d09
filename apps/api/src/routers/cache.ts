import { ZCachePurgeInput, ZCachePurgeResult } from "@switchboard/schema";
import { router, userProcedure } from "../trpc/init.ts";

/** The response cache as an operator's tool. */
export const cacheRouter = router({
  /** Forgets kept answers on every instance: your own; an ADMIN signed in, another user's or everyone's. */
  purge: userProcedure
    .meta({ feature: "admin", keyScope: "chat" })
    .input(ZCachePurgeInput)
    .output(ZCachePurgeResult)
    .mutation(({ ctx, input }) => ctx.deps.chat.purgeCache({ ...ctx.user, viaKey: ctx.user.apiKey !== undefined }, input)),
});
