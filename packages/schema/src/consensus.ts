import { z } from "zod";
import { ZAttemptOutcome, ZChatUsage, ZProviderId } from "./chat.ts";
import { namedEnum, ZId, ZPageInput } from "./common.ts";

/**
 * How the answers of several models become one:
 * - `majority`: normalised exact-match vote (short answers: numbers, names, yes/no);
 * - `medoid`: the answer most similar to all the others (free text);
 * - `synthesize`: an aggregator model merges the answers (Mixture-of-Agents), medoid on failure.
 */
export const CONSENSUS_STRATEGIES = ["majority", "medoid", "synthesize"] as const;
export const ZConsensusStrategy = namedEnum(CONSENSUS_STRATEGIES, "strategy");
export type TConsensusStrategy = z.infer<typeof ZConsensusStrategy>;

export const CONSENSUS_LIMITS = {
  promptMaxChars: 32_000,
  /** A consensus needs at least two providers to compare. */
  minProviders: 2,
  timeoutMinMs: 1,
  timeoutMaxMs: 300_000,
} as const;

/**
 * Answers needed for a result when the request names no quorum: at least half of the
 * providers asked (2 of 3, 3 of 5; 1 of 2, so one provider down does not sink a pair).
 */
export function defaultQuorum(providersAsked: number): number {
  return Math.max(1, Math.ceil(providersAsked / 2));
}

export const ZConsensusQueryInput = z
  .object({
    prompt: z
      .string({ error: "prompt must be a string" })
      .trim()
      .min(1, "Prompt is empty")
      .max(CONSENSUS_LIMITS.promptMaxChars, `Prompt is too long (limit ${CONSENSUS_LIMITS.promptMaxChars} characters)`),
    strategy: ZConsensusStrategy,
    /** Default: every active provider except the offline template (see consensus.models). */
    providers: z
      .array(ZProviderId)
      .min(CONSENSUS_LIMITS.minProviders, `Consensus needs at least ${CONSENSUS_LIMITS.minProviders} providers`)
      .refine((ids) => new Set(ids).size === ids.length, "A provider is listed twice")
      .optional(),
    /** Answers needed for a result; fewer is an error naming who failed. Default: half the providers, rounded up. */
    quorum: z.number().int().min(1, "Quorum must be at least 1").optional(),
    /** Deadline for the whole run; a provider still silent then is reported `timeout`. */
    timeoutMs: z
      .number()
      .int()
      .min(CONSENSUS_LIMITS.timeoutMinMs, `timeoutMs must be at least ${CONSENSUS_LIMITS.timeoutMinMs} ms`)
      .max(CONSENSUS_LIMITS.timeoutMaxMs, `timeoutMs must be at most ${CONSENSUS_LIMITS.timeoutMaxMs} ms`)
      .optional(),
    /** synthesize only: the model that merges the answers (default: see consensus.models). */
    aggregator: ZProviderId.optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().min(1).max(32_768).optional(),
  })
  .superRefine((input, ctx) => {
    if (input.providers && input.quorum !== undefined && input.quorum > input.providers.length) {
      ctx.addIssue({
        code: "custom",
        path: ["quorum"],
        message: `Quorum ${input.quorum} is larger than the ${input.providers.length} providers asked`,
      });
    }
  });
export type TConsensusQueryInput = z.infer<typeof ZConsensusQueryInput>;

/** One model's answer. `status` uses the chat attempt outcomes: "success", "timeout", "http_error"… */
export const ZConsensusAnswer = z.object({
  provider: ZProviderId,
  model: z.string(),
  /** Null when the provider gave no answer. */
  content: z.string().nullable(),
  latencyMs: z.number().int().nonnegative(),
  status: ZAttemptOutcome,
  usage: ZChatUsage.nullable(),
  /** Why there is no answer (an HTTP error names its status). */
  error: z.string().optional(),
});
export type TConsensusAnswer = z.infer<typeof ZConsensusAnswer>;

/** The aggregator call of a synthesize run. */
export const ZConsensusAggregator = ZConsensusAnswer;
export type TConsensusAggregator = TConsensusAnswer;

/** A provider left out of the fan-out before any call, and why. */
export const ZConsensusExclusion = z.object({ provider: ZProviderId, reason: z.enum(["frozen"]) });

export const CONSENSUS_RUN_STATUSES = ["complete", "failed", "aborted"] as const;

export const ZConsensusRun = z.object({
  id: ZId,
  userId: z.string(),
  prompt: z.string(),
  /** What was asked for. */
  strategy: ZConsensusStrategy,
  /** What decided the winner: differs from `strategy` when synthesize fell back to medoid. */
  decidedBy: ZConsensusStrategy.nullable(),
  /** Why synthesize fell back, when it did. */
  fallbackReason: z.string().nullable(),
  status: z.enum(CONSENSUS_RUN_STATUSES),
  quorum: z.number().int(),
  /** In the order the providers were asked (ties are broken in this order). */
  answers: z.array(ZConsensusAnswer),
  excluded: z.array(ZConsensusExclusion),
  aggregator: ZConsensusAggregator.nullable(),
  /** Null unless the run completed. */
  winner: z.object({ content: z.string(), providers: z.array(ZProviderId) }).nullable(),
  /** 0..1, see docs/consensus.md for each strategy's definition. Null unless the run completed. */
  agreement: z.number().min(0).max(1).nullable(),
  latencyMs: z.number().int().nonnegative().nullable(),
  createdAt: z.string(),
});
export type TConsensusRun = z.infer<typeof ZConsensusRun>;

/** consensus.query's answer: a completed run. */
export const ZConsensusResult = ZConsensusRun.extend({
  status: z.literal("complete"),
  decidedBy: ZConsensusStrategy,
  winner: z.object({ content: z.string(), providers: z.array(ZProviderId) }),
  agreement: z.number().min(0).max(1),
  latencyMs: z.number().int().nonnegative(),
});
export type TConsensusResult = z.infer<typeof ZConsensusResult>;

export const CONSENSUS_STREAM_ERROR_CODES = ["QUORUM_NOT_MET", "EMERGENCY_STOP", "ABORTED", "SERVICE_UNAVAILABLE", "INTERNAL"] as const;

/**
 * consensus.stream events: `consensus_start` (who is asked), one `consensus_answer` per model
 * as it arrives, `consensus_synthesizing` when the aggregator starts, then either
 * `consensus_complete` with the result or `error`.
 */
export const ZConsensusStreamEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("consensus_start"),
    id: ZId,
    strategy: ZConsensusStrategy,
    quorum: z.number().int(),
    timeoutMs: z.number().int(),
    providers: z.array(z.object({ provider: ZProviderId, model: z.string() })),
    excluded: z.array(ZConsensusExclusion),
  }),
  z.object({ type: z.literal("consensus_answer"), answer: ZConsensusAnswer }),
  z.object({ type: z.literal("consensus_synthesizing"), provider: ZProviderId, model: z.string() }),
  z.object({ type: z.literal("consensus_complete"), result: ZConsensusResult }),
  z.object({
    type: z.literal("error"),
    code: z.enum(CONSENSUS_STREAM_ERROR_CODES),
    message: z.string(),
    id: ZId.optional(),
    answers: z.array(ZConsensusAnswer).optional(),
    /** Seconds after which the same request may succeed (a freeze's expiry, the database back, a run cut short by a shutdown); absent when waiting will not help. */
    retryAfterSec: z.number().int().positive().optional(),
  }),
]);
export type TConsensusStreamEvent = z.infer<typeof ZConsensusStreamEvent>;

export const ZConsensusModel = z.object({
  provider: ZProviderId,
  model: z.string(),
  kind: z.enum(["openai-compatible", "anthropic", "ollama", "azure-openai", "template"]),
  /** Configured and listed in PROVIDER_ORDER: may be asked. */
  active: z.boolean(),
  /** Asked when `providers` is omitted. */
  byDefault: z.boolean(),
  frozen: z.boolean(),
  circuit: z.enum(["closed", "open", "half_open"]),
});
export type TConsensusModel = z.infer<typeof ZConsensusModel>;

export const ZConsensusModels = z.object({
  models: z.array(ZConsensusModel),
  strategies: z.array(ZConsensusStrategy),
  defaults: z.object({
    providers: z.array(ZProviderId),
    timeoutMs: z.number().int(),
    /** The aggregator when none is configured or given: null = the first provider that answered. */
    aggregator: ZProviderId.nullable(),
  }),
});
export type TConsensusModels = z.infer<typeof ZConsensusModels>;

export const ZConsensusRunSummary = z.object({
  id: ZId,
  userId: z.string(),
  prompt: z.string(),
  strategy: ZConsensusStrategy,
  status: z.enum(CONSENSUS_RUN_STATUSES),
  agreement: z.number().nullable(),
  winner: z.string().nullable(),
  winnerProviders: z.array(ZProviderId),
  providers: z.array(ZProviderId),
  latencyMs: z.number().int().nullable(),
  createdAt: z.string(),
});
export type TConsensusRunSummary = z.infer<typeof ZConsensusRunSummary>;

export const ZConsensusHistoryInput = ZPageInput.optional();
export type TConsensusHistoryInput = z.infer<typeof ZConsensusHistoryInput>;
export const ZConsensusIdInput = z.object({ id: ZId });

