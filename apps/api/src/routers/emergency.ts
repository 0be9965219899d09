import {
  ZEmergencyChangeResult,
  ZEmergencyFreezeInput,
  ZEmergencyHistoryInput,
  ZEmergencyHistoryPage,
  ZEmergencyStatus,
  ZEmergencyUnfreezeInput,
} from "@switchboard/schema";
import { adminProcedure, publicProcedure, router, superAdminProcedure } from "../trpc/init.ts";

/**
 * The emergency stop. status, watch and unfreeze keep answering while frozen (their feature).
 * A SuperAdmin's API key with every default scope may freeze and unfreeze (keyScope "owner"): a
 * script or an alert hook pulls the switch without signing in; the audit names the owner.
 */
export const emergencyRouter = router({
  status: publicProcedure.meta({ feature: "emergency" }).output(ZEmergencyStatus).query(({ ctx }) => ctx.deps.emergency.status()),

  freeze: superAdminProcedure
    .meta({ feature: "admin", keyScope: "owner" })
    .input(ZEmergencyFreezeInput)
    .output(ZEmergencyChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.emergency.freeze(input, { id: ctx.user.id, email: ctx.user.email })),

  unfreeze: superAdminProcedure
    .meta({ feature: "emergency", keyScope: "owner" })
    .input(ZEmergencyUnfreezeInput)
    .output(ZEmergencyChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.emergency.unfreeze(input, { id: ctx.user.id, email: ctx.user.email })),

  history: adminProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .input(ZEmergencyHistoryInput)
    .output(ZEmergencyHistoryPage)
    .query(({ ctx, input }) => ctx.deps.emergency.history({ cursor: input?.cursor, limit: input?.limit ?? 20 })),

  /** SSE: the current state, then every change as this instance applies it. */
  watch: publicProcedure.meta({ feature: "emergency" }).subscription(async function* ({ ctx, signal }) {
    yield* ctx.deps.emergency.watch(signal);
  }),
});
