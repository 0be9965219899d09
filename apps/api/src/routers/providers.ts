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
import { configActorOf } from "../trpc/context.ts";
import { adminProcedure, router, superAdminProcedure } from "../trpc/init.ts";

/**
 * Providers as live configuration. Keys go in, never out: items carry apiKeyMasked. A
 * SuperAdmin's API key with `write:config` manages them too (configuration as code), and the
 * audit names the key.
 */
export const providersRouter = router({
  list: adminProcedure
    .meta({ feature: "admin-read", keyScope: "write:config" })
    .input(ZProviderListInput)
    .output(ZProviderPage)
    .query(({ ctx, input }) => ctx.deps.gateway.config.listProviders(input)),

  get: adminProcedure
    .meta({ feature: "admin-read", keyScope: "write:config" })
    .input(ZProviderIdInput)
    .output(ZProviderItem)
    .query(({ ctx, input }) => ctx.deps.gateway.config.getProvider(input.id)),

  create: superAdminProcedure
    .meta({ feature: "admin", keyScope: "write:config" })
    .input(ZProviderCreateInput)
    .output(ZProviderChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.createProvider(configActorOf(ctx.user), input)),

  update: superAdminProcedure
    .meta({ feature: "admin", keyScope: "write:config" })
    .input(ZProviderUpdateInput)
    .output(ZProviderChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.updateProvider(configActorOf(ctx.user), input)),

  delete: superAdminProcedure
    .meta({ feature: "admin", keyScope: "write:config" })
    .input(ZProviderIdInput)
    .output(ZProviderChangeResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.deleteProvider(configActorOf(ctx.user), input.id)),

  /**
   * One real upstream call: latency, or the upstream's own error (a wrong key shows its 401).
   * Signed in only: with a key, pointing a provider anywhere and reading back what answered
   * would make the gateway a probe of the networks it reaches.
   */
  test: superAdminProcedure
    .meta({ feature: "admin" })
    .input(ZProviderIdInput)
    .output(ZProviderTestResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.testProvider(input.id)),
});
