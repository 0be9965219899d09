import { ZLogIdInput, ZLogsListInput, ZRequestLog, ZRequestLogDetail, ZUsageSummary, ZUsageSummaryInput, pageOf } from "@switchboard/schema";
import { router, userProcedure } from "../trpc/init.ts";

/** The request log: a USER reads their own requests, an ADMIN everyone's. */
export const logsRouter = router({
  list: userProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .input(ZLogsListInput)
    .output(pageOf(ZRequestLog))
    .query(({ ctx, input }) => ctx.deps.requestLog.list(ctx.user, input)),

  get: userProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .input(ZLogIdInput)
    .output(ZRequestLogDetail)
    .query(({ ctx, input }) => ctx.deps.requestLog.get(ctx.user, input.id)),
});

/** Spend and token totals from the request log, grouped. */
export const usageRouter = router({
  summary: userProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .input(ZUsageSummaryInput)
    .output(ZUsageSummary)
    .query(({ ctx, input }) => ctx.deps.requestLog.summary(ctx.user, input)),
});
