import {
  ZProviderChangeResult,
  ZProviderCreateInput,
  ZProviderIdInput,
  ZProviderItem,
  ZProviderListInput,
  ZProviderPage,
  ZProviderTestResult,
  ZProviderUpdateInput,
} from "@switchboard/schema";
import { adminProcedure, router, superAdminProcedure } from "../trpc/init.ts";

/** Providers as live configuration. Keys go in, never out: items carry apiKeyMasked. */
export const providersRouter = router({
  list: adminProcedure
    .meta({ feature: "admin-read" })
    .input(ZProviderListInput)
    .output(ZProviderPage)
    .query(({ ctx, input }) => ctx.deps.gateway.config.listProviders(input)),

  get: adminProcedure
    .meta({ feature: "admin-read" })
    .input(ZProviderIdInput)
    .output(ZProviderItem)
    .query(({ ctx, input }) => ctx.deps.gateway.config.getProvider(input.id)),

  create: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZProviderCreateInput)
    .output(ZProviderChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.createProvider({ id: ctx.user.id, email: ctx.user.email }, input)),

  update: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZProviderUpdateInput)
    .output(ZProviderChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.updateProvider({ id: ctx.user.id, email: ctx.user.email }, input)),

  delete: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZProviderIdInput)
    .output(ZProviderChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.deleteProvider({ id: ctx.user.id, email: ctx.user.email }, input.id)),

  /** One real upstream call: latency, or the upstream's own error (a wrong key shows its 401). */
  test: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZProviderIdInput)
    .output(ZProviderTestResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.testProvider(input.id)),
});
