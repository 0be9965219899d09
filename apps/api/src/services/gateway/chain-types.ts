import type { TAttemptOutcome, TChatAttempt, TChatUsage, TProviderId } from "@switchboard/schema";
import type { ProviderRequest } from "../../providers/types.ts";

export interface ChainRequest extends Omit<ProviderRequest, "signal"> {
  /** Use only this provider: no fallback. */
  pinned?: TProviderId | undefined;
  /** Aborted when the caller goes away or the fleet is frozen; the reason is kept. */
  signal: AbortSignal;
  /** Rejects a reply that is not acceptable (e.g. invalid structured output) → next provider. */
  accept?: ((content: string) => boolean) | undefined;
  /**
   * The caller's own deadline per call (consensus.timeoutMs), when shorter than the chain's
   * timeout. A call cut by it is reported as a `timeout` but not held against the provider's
   * circuit: the caller chose the limit, it says nothing about the provider's health.
   */
  timeoutMs?: number | undefined;
}

export interface ChainResult {
  content: string;
  provider: TProviderId;
  model: string;
  usage: TChatUsage;
  latencyMs: number;
  attempts: TChatAttempt[];
}

export type ChainEvent =
  | { type: "start"; provider: TProviderId; model: string }
  | { type: "delta"; text: string }
  | ({ type: "done" } & ChainResult);

/**
 * One upstream call, as metrics (issue 6) and logs want it. Emitted once per real call
 * (skips cost nothing and are not calls), after the call's outcome is known.
 */
export interface ProviderCallRecord {
  provider: TProviderId;
  model: string;
  mode: "complete" | "stream";
  outcome: TAttemptOutcome;
  latencyMs: number;
  /** Time to first token, streams only. */
  ttftMs: number | undefined;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  /** True when an earlier provider of the same request failed or was skipped. */
  fallback: boolean;
  status: number | undefined;
  error: string | undefined;
  /** Epoch ms when the call ended. */
  at: number;
}

export type ChainFailureKind = "exhausted" | "interrupted" | "idle_timeout" | "aborted";

/**
 * Why a chain call produced no complete answer. `partial` is the text already streamed
 * (non-empty only for failures after the first token); `abortReason` is the caller's signal
 * reason when `kind` is "aborted" (e.g. an emergency-stop AppError).
 */
export class ChainError extends Error {
  readonly kind: ChainFailureKind;
  readonly attempts: TChatAttempt[];
  readonly partial: { content: string; provider: TProviderId; model: string; usage: TChatUsage; latencyMs: number } | undefined;
  readonly abortReason: unknown;

  constructor(
    kind: ChainFailureKind,
    message: string,
    opts: { attempts: TChatAttempt[]; partial?: ChainError["partial"]; abortReason?: unknown },
  ) {
    super(message);
    this.name = "ChainError";
    this.kind = kind;
    this.attempts = opts.attempts;
    this.partial = opts.partial;
    this.abortReason = opts.abortReason;
  }
}
