import { ZMetricsSummary, ZMetricsTimeseries, ZMetricsTimeseriesInput } from "@switchboard/schema";
import { adminProcedure, router } from "../trpc/init.ts";

/** Cluster-wide metrics (docs/metrics.md). ADMIN: figures reveal traffic and fleet shape. */
export const metricsRouter = router({
  /** ai.<provider> figures, requests, errors, streams, emergency state and instances. */
  summary: adminProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .output(ZMetricsSummary).query(({ ctx }) => ctx.deps.metrics.summary()),

  /** Per-minute buckets of the last 24 h; a range outside that window is a 400. */
  timeseries: adminProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .input(ZMetricsTimeseriesInput)
    .output(ZMetricsTimeseries)
    .query(({ ctx, input }) => ctx.deps.metrics.timeseries(input)),

  /** SSE: the summary now, then whenever it changes, at most once per second. */
  live: adminProcedure
    .meta({ feature: "admin-read", keyScope: "read:metrics" })
    .subscription(({ ctx, signal }) => ctx.deps.metrics.live(signal)),
});
