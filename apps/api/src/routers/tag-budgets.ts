import { ZTagBudget, ZTagBudgetRemoveInput, ZTagBudgetSetInput } from "@switchboard/schema";
import { z } from "zod";
import { adminProcedure, router, superAdminProcedure } from "../trpc/init.ts";

/**
 * Budgets on tags: an ADMIN reads them with what their requests spent; only a SUPERADMIN
 * sets or removes one (as a user's budget), signed in: no API key changes a budget.
 */
export const tagBudgetsRouter = router({
  list: adminProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .output(z.array(ZTagBudget))
    .query(({ ctx }) => ctx.deps.keys.tagBudgets.list()),

  set: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZTagBudgetSetInput)
    .output(ZTagBudgetSetInput.required())
    .mutation(({ ctx, input }) => ctx.deps.keys.tagBudgets.set(input)),

  remove: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZTagBudgetRemoveInput)
    .output(z.object({ removed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.deps.keys.tagBudgets.remove(input.tag);
      return { removed: true as const };
    }),
});
