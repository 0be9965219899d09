import {
  ZConsensusHistoryInput,
  ZConsensusIdInput,
  ZConsensusModels,
  ZConsensusQueryInput,
  ZConsensusResult,
  ZConsensusRun,
  ZConsensusRunSummary,
  pageOf,
} from "@switchboard/schema";
import { callerOf } from "../trpc/context.ts";
import { router, userProcedure } from "../trpc/init.ts";

export const consensusRouter = router({
  /**
   * A tRPC query, as its name says, so `GET ?input=` and typed `.query()` work; the server
   * also accepts POST for queries (allowMethodOverride), which is what our clients send so a
   * long prompt never meets a URL length limit. Every run needs a signed-in caller and is
   * answered `cache-control: no-store`, so no cache or crawler repeats a paid run.
   */
  query: userProcedure
    .meta({ feature: "consensus", keyScope: "consensus", metered: true })
    .input(ZConsensusQueryInput)
    .output(ZConsensusResult)
    .query(({ ctx, input }) => ctx.deps.consensus.query(ctx.user, input, callerOf(ctx.req))),

  /** SSE: consensus_start, consensus_answer… (as each arrives), then consensus_complete or error. */
  stream: userProcedure
    .meta({ feature: "consensus", keyScope: "consensus", metered: true })
    .input(ZConsensusQueryInput)
    .subscription(({ ctx, input, signal }) => ctx.deps.consensus.stream(ctx.user, input, callerOf(ctx.req, signal))),

  models: userProcedure
    .meta({ feature: "consensus", keyScope: "models" })
    .output(ZConsensusModels).query(({ ctx }) => ctx.deps.consensus.models()),

  /** Own runs, newest first; ADMIN and above see everyone's. */
  history: userProcedure
    .meta({ feature: "consensus", keyScope: "consensus" })
    .input(ZConsensusHistoryInput)
    .output(pageOf(ZConsensusRunSummary))
    .query(({ ctx, input }) => ctx.deps.consensus.history(ctx.user, input)),

  get: userProcedure
    .meta({ feature: "consensus", keyScope: "consensus" })
    .input(ZConsensusIdInput)
    .output(ZConsensusRun)
    .query(({ ctx, input }) => ctx.deps.consensus.get(ctx.user, input.id)),
});
