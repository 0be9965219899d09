/**
 * Turns a finished gateway request (what its request scope gathered) into a request-log
 * row and its cost, and hands the row to the batch writer. Runs after the response, never
 * on the request's path.
 */
import { CHAT_LIMITS, type TLogAttempt } from "@switchboard/schema";
import type { UpstreamCall } from "../../infra/request-scope.ts";
import type { LogWriter } from "./log-writer.ts";
import type { ModelPrice } from "../gateway/config-types.ts";
import { costUsd } from "../gateway/pricing.ts";
import { redactSecrets } from "./redact.ts";

/** An upstream call as the request scope booked it (performance.now() clock, like startedAt). */
export type FinishedCall = Omit<UpstreamCall, "fallback">;

export interface FinishedRequest {
  requestId: string;
  method: string;
  route: string;
  userId: string | undefined;
  keyId: string | undefined;
  model: string | undefined;
  /** The caller's labels (x-switchboard-tags). */
  tags?: readonly string[] | undefined;
  /** Answered from the response cache. */
  cacheHit?: boolean | undefined;
  /** What that hit saved (its answer's usage at the prices its call would have been billed at). */
  cacheSavedUsd?: number | undefined;
  status: number;
  errorCode: string | undefined;
  startedAt: number;
  durationMs: number;
  stream: boolean;
  ip: string | undefined;
  calls: readonly FinishedCall[];
  /** The request ran under a user's or key's budget: a call no price covers slips past it. */
  budgeted?: boolean;
  requestBody?: string | undefined;
  responseBody?: string | undefined;
}

/** Distinct unpriced targets warned about, per process. */
const MAX_UNPRICED_WARNINGS = 1000;

/** Bodies are capped: the log is for looking at requests, not for archiving them. */
export const MAX_BODY_CHARS = 32_000;

/** A priced route's name → its prices (null or undefined: not priced). */
export type PriceLookup = (route: string) => ModelPrice | null | undefined;

export interface RequestRecorderDeps {
  writer: LogWriter;
  prices: PriceLookup;
  storeBodies: boolean;
  /**
   * Told once per provider and upstream model of a budgeted call that no price covers: it is
   * logged at cost 0, so no budget counts it (the operator should price a route for it).
   */
  onUnpriced?: (target: { provider: string; model: string }) => void;
  /** Told what each request that called a provider cost, budgeted or not. */
  onPriced?: (costUsd: number) => void;
  /** Told what each priced call cost, by the provider that answered it (spend per provider). */
  onSpent?: (provider: string, costUsd: number) => void;
}

export function createRequestRecorder(deps: RequestRecorderDeps) {
  const body = (text: string | undefined) => (deps.storeBodies && text ? redactSecrets(text.slice(0, MAX_BODY_CHARS)) : null);
  /**
   * Targets already reported unpriced. Usually one per configured provider and model, but an
   * upstream may answer to model names callers make up, so it is capped: past the cap,
   * nothing more is said (the first warnings already say what to price).
   */
  const toldUnpriced = new Set<string>();
  const reportUnpriced = (c: FinishedCall) => {
    const target = { provider: c.provider, model: (c.model ?? "(unknown)").slice(0, CHAT_LIMITS.modelNameMaxChars) };
    const key = `${target.provider}\0${target.model}`;
    if (toldUnpriced.has(key) || toldUnpriced.size >= MAX_UNPRICED_WARNINGS) return;
    toldUnpriced.add(key);
    deps.onUnpriced?.(target);
  };

  return function record(r: FinishedRequest): number {
    const answered = r.calls.filter((c) => c.outcome === "success");
    const last = answered.at(-1) ?? r.calls.at(-1);
    // What the providers bill: every answer, what a stream that broke after its first token
    // had already produced (the client got that much; the provider charges it), and a reply
    // the gateway refused (empty, or not what the caller accepts) and fell over from.
    const billed = r.calls.filter((c) => c.outcome === "success" || (c.promptTokens ?? 0) + (c.completionTokens ?? 0) > 0);
    let prompt = 0;
    let completion = 0;
    let cached = 0;
    let cost = 0;
    const spent: Array<[provider: string, usd: number]> = [];
    for (const c of billed) {
      const p = c.promptTokens ?? 0;
      const o = c.completionTokens ?? 0;
      const k = c.cachedTokens ?? 0;
      prompt += p;
      completion += o;
      cached += k;
      // Each call at its own route's prices: a tRPC batch or a consensus run calls several.
      const prices = c.pricedAs === undefined ? undefined : deps.prices(c.pricedAs);
      if (!prices && r.budgeted) reportUnpriced(c);
      const callCost = costUsd(prices, { prompt: p, completion: o, cached: k });
      cost += callCost;
      if (callCost > 0) spent.push([c.provider, callCost]);
    }
    const attempts: TLogAttempt[] = r.calls.map((c) => ({
      provider: c.provider,
      model: c.model ?? null,
      outcome: c.outcome,
      latencyMs: Math.round(c.end - c.start),
      startMs: Math.max(0, Math.round(c.start - r.startedAt)),
      ttftMs: c.ttftMs === undefined ? null : Math.round(c.ttftMs),
      promptTokens: c.promptTokens ?? null,
      completionTokens: c.completionTokens ?? null,
    }));
    const firstToken = answered.find((c) => c.ttftMs !== undefined);
    deps.writer.record({
      requestId: r.requestId,
      createdAt: new Date(Date.now() - r.durationMs),
      userId: r.userId ?? null,
      keyId: r.keyId ?? null,
      method: r.method,
      route: r.route,
      model: r.model ?? null,
      provider: last?.provider ?? null,
      upstreamModel: last?.model ?? null,
      attempts,
      status: r.status,
      errorCode: r.errorCode ?? null,
      promptTokens: prompt,
      completionTokens: completion,
      cachedTokens: cached,
      costUsd: cost,
      latencyMs: Math.round(r.durationMs),
      // From the request's arrival, as the client sees it.
      ttftMs: firstToken ? Math.round(firstToken.start - r.startedAt + firstToken.ttftMs!) : null,
      stream: r.stream,
      ip: r.ip ?? null,
      requestBody: body(r.requestBody),
      responseBody: body(r.responseBody),
      tags: r.tags ?? [],
      cacheHit: r.cacheHit ?? false,
      cacheSavedUsd: r.cacheHit ? (r.cacheSavedUsd ?? 0) : 0,
    });
    if (billed.length > 0) deps.onPriced?.(cost);
    for (const [provider, usd] of spent) deps.onSpent?.(provider, usd);
    // The caller's budgets are charged by the request scope's end (scope-log.ts), with this cost.
    return cost;
  };
}

export type RequestRecorder = ReturnType<typeof createRequestRecorder>;
