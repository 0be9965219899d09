import { CONFIG_IMPORT_BODY_LIMIT_BYTES, ZConfigExport, ZConfigHistoryInput, ZConfigHistoryPage, ZConfigImportInput, ZConfigImportResult } from "@switchboard/schema";
import { configActorOf } from "../trpc/context.ts";
import { adminProcedure, router, superAdminProcedure } from "../trpc/init.ts";

/**
 * The gateway's configuration as one document (configuration as code): read it whole, and
 * make it what a document says — in a pipeline, with a SuperAdmin's `write:config` key.
 */
export const configRouter = router({
  /** Providers and model routes as a document; secrets are never in it. */
  export: adminProcedure
    .meta({ feature: "admin-read", keyScope: "write:config" })
    .output(ZConfigExport)
    .query(({ ctx }) => ctx.deps.gateway.config.exportDocument()),

  /** The audit of every change, newest first: version, action, target, who (and with which API key), the fields set. */
  history: adminProcedure
    .meta({ feature: "admin-read", keyScope: "write:config" })
    .input(ZConfigHistoryInput)
    .output(ZConfigHistoryPage)
    .query(({ ctx, input }) => ctx.deps.gateway.config.history({ cursor: input?.cursor, limit: input?.limit ?? 20, target: input?.target })),

  /** Changes what differs from the document as one version (every change audited); `dryRun` only says what. */
  import: superAdminProcedure
    // The largest document the schema allows, not the 1 MB of every other call.
    .meta({ feature: "admin", keyScope: "write:config", bodyLimitBytes: CONFIG_IMPORT_BODY_LIMIT_BYTES })
    .input(ZConfigImportInput)
    .output(ZConfigImportResult)
    .mutation(({ ctx, input }) => ctx.deps.gateway.config.applyDocument(configActorOf(ctx.user), input)),
});
