/**
 * Turns a consensus request into a plan, or refuses it with a 400 that says what to change:
 * which providers are asked (default: every active provider but the offline template),
 * which are left out because an emergency stop froze them, the quorum, the deadline and
 * the aggregator. A request that only falls short because of a freeze gets the freeze's 503
 * instead: it will be served once the freeze is lifted. Pure: configuration and freeze state
 * come in as arguments.
 */
import { randomUUID } from "node:crypto";
import { CONSENSUS_LIMITS, defaultQuorum, formatCount, type TConsensusQueryInput, type TConsensusStrategy, type TProviderId } from "@switchboard/schema";
import type { ProviderRegistry } from "../gateway/registry.ts";
import type { ChatProvider } from "../../providers/types.ts";
import { AppError, soonestToRetry } from "../errors.ts";

export interface RunPlan {
  id: string;
  prompt: string;
  strategy: TConsensusStrategy;
  /** In the order asked: tie-breaks and the answers list follow it. */
  providers: ChatProvider[];
  excluded: Array<{ provider: TProviderId; reason: "frozen" }>;
  quorum: number;
  timeoutMs: number;
  /** synthesize: the aggregator named by the request or configuration; null = first provider that answered. */
  aggregator: ChatProvider | null;
  temperature: number | undefined;
  maxTokens: number | undefined;
}

export interface PlanContext {
  registry: ProviderRegistry;
  /** The EMERGENCY_STOP refusal of a freeze taking `id` out of fan-outs right now, or null. */
  frozenRefusal: (id: TProviderId) => AppError | null;
  defaultTimeoutMs: number;
  defaultAggregator: TProviderId | undefined;
}

/** Every active provider except the offline template, unless nothing else is active. */
export function defaultProviders(registry: ProviderRegistry): TProviderId[] {
  const active = registry.chain().map((p) => p.id);
  const upstreams = active.filter((id) => registry.get(id)?.kind !== "template");
  return upstreams.length > 0 ? upstreams : active;
}

const list = (ids: readonly string[]) => ids.join(", ") || "none";

/**
 * How many unknown provider names a refusal repeats: a request may list thousands, and
 * echoing each one back turns a short 400 into tens of kilobytes of the caller's own input.
 */
const NAMED_AT_MOST = 5;

/** "a, b, c, d, e and 4,995 more": the first few names and how many were left out. */
function someOf(ids: readonly string[]): string {
  const rest = ids.length - NAMED_AT_MOST;
  return rest > 0 ? `${list(ids.slice(0, NAMED_AT_MOST))} and ${formatCount(rest)} more` : list(ids);
}

export function planRun(input: TConsensusQueryInput, ctx: PlanContext): RunPlan {
  const { registry } = ctx;
  const requested = input.providers ?? defaultProviders(registry);
  const inactive = requested.filter((id) => !registry.isActive(id));
  if (inactive.length > 0) {
    throw new AppError("BAD_REQUEST", `Provider${inactive.length > 1 ? "s" : ""} ${someOf(inactive)} not configured (providers.list shows the providers)`, {
      details: { inactiveProviders: inactive.slice(0, NAMED_AT_MOST), inactiveCount: inactive.length, activeProviders: registry.chain().map((p) => p.id) },
    });
  }
  // Checked before the freezes: what is wrong with the request stays a 400 whatever is frozen.
  const aggregator = input.strategy === "synthesize" ? aggregatorOf(input.aggregator ?? ctx.defaultAggregator, registry) : null;
  const fineUnfrozen = requested.length >= CONSENSUS_LIMITS.minProviders && (input.quorum ?? defaultQuorum(requested.length)) <= requested.length;
  const refusals = requested.flatMap((id) => {
    const refusal = ctx.frozenRefusal(id);
    return refusal ? [{ id, refusal }] : [];
  });
  const frozen = refusals.map((r) => r.id);
  const asked = requested.filter((id) => !frozen.includes(id));
  const frozenNote = frozen.length > 0 ? `; frozen by an emergency stop: ${list(frozen)}` : "";
  /**
   * The refusal for a shortfall: the freeze's own when the request is fine but for it, saying
   * when the first frozen provider comes back (lifting any one may be enough).
   */
  const shortOf = (message: string) => {
    const details = { availableProviders: asked, frozenProviders: frozen };
    const soonest = fineUnfrozen ? soonestToRetry(refusals.map((r) => r.refusal)) : undefined;
    return soonest
      ? new AppError("EMERGENCY_STOP", message, { details: { ...soonest.details, ...details }, retryAfterSec: soonest.retryAfterSec })
      : new AppError("BAD_REQUEST", message, { details });
  };
  if (asked.length < CONSENSUS_LIMITS.minProviders) {
    throw shortOf(`Consensus needs at least ${CONSENSUS_LIMITS.minProviders} available providers; available: ${list(asked)}${frozenNote}`);
  }
  const quorum = input.quorum ?? defaultQuorum(asked.length);
  if (quorum > asked.length) {
    throw shortOf(`Quorum ${quorum} is larger than the ${asked.length} available providers (${list(asked)})${frozenNote}`);
  }
  return {
    id: randomUUID(),
    prompt: input.prompt,
    strategy: input.strategy,
    // Every id was checked active above.
    providers: asked.map((id) => registry.get(id)!),
    excluded: frozen.map((provider) => ({ provider, reason: "frozen" as const })),
    quorum,
    timeoutMs: input.timeoutMs ?? ctx.defaultTimeoutMs,
    aggregator,
    temperature: input.temperature,
    maxTokens: input.maxTokens,
  };
}

function aggregatorOf(id: TProviderId | undefined, registry: ProviderRegistry): ChatProvider | null {
  if (id === undefined) return null;
  const provider = registry.get(id);
  if (provider?.kind === "template") {
    throw new AppError("BAD_REQUEST", "The offline template cannot synthesize answers; choose another aggregator");
  }
  if (!provider) {
    throw new AppError("BAD_REQUEST", `Aggregator ${id} is not a configured provider (providers.list shows them)`);
  }
  return provider;
}
