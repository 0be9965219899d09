import {
  ZEmergencyChangeResult,
  ZEmergencyFreezeInput,
  ZEmergencyHistoryInput,
  ZEmergencyHistoryPage,
  ZEmergencyStatus,
  ZEmergencyUnfreezeInput,
} from "@switchboard/schema";
import { adminProcedure, publicProcedure, router, superAdminProcedure } from "../trpc/init.ts";

/** The emergency stop. status, watch and unfreeze keep answering while frozen (allowlist). */
export const emergencyRouter = router({
  status: publicProcedure.output(ZEmergencyStatus).query(({ ctx }) => ctx.deps.emergency.status()),

  freeze: superAdminProcedure
    .input(ZEmergencyFreezeInput)
    .output(ZEmergencyChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.emergency.freeze(input, { id: ctx.user.id, email: ctx.user.email })),

  unfreeze: superAdminProcedure
    .input(ZEmergencyUnfreezeInput)
    .output(ZEmergencyChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.emergency.unfreeze(input, { id: ctx.user.id, email: ctx.user.email })),

  history: adminProcedure
    .input(ZEmergencyHistoryInput)
    .output(ZEmergencyHistoryPage)
    .query(({ ctx, input }) => ctx.deps.emergency.history({ cursor: input?.cursor, limit: input?.limit ?? 20 })),

  /** SSE: the current state, then every change as this instance applies it. */
  watch: publicProcedure.subscription(async function* ({ ctx, signal }) {
    yield* ctx.deps.emergency.watch(signal);
  }),
});
