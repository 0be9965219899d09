import { z } from "zod";
import { ZId, ZPageInput, ZRole, namedEnum } from "./common.ts";
import { REQUEST_TAGS, ZRequestTag } from "./logs.ts";

/**
 * What an API key may be used for; a key never does more than its owner could.
 * `write:config`: providers and model routes managed by a program (configuration as code), only
 * on a SuperAdmin's key and never among the defaults.
 */
export const KEY_SCOPES = ["chat", "consensus", "embeddings", "models", "read:metrics", "write:config"] as const;
export const ZKeyScope = namedEnum(KEY_SCOPES, "scope");
export type TKeyScope = z.infer<typeof ZKeyScope>;
/** A new key's scopes when none are asked for: every scope but `write:config`, which is asked for by name. */
export const DEFAULT_KEY_SCOPES: readonly Exclude<TKeyScope, "write:config">[] = ["chat", "consensus", "embeddings", "models", "read:metrics"];

/**
 * Keys one user may hold at once (neither revoked nor expired): enough for a key per app or
 * customer, and a bound on what one account can make every instance hold and re-check.
 */
export const KEY_LIMITS = { maxActivePerUser: 1000 } as const;

export const BUDGET_PERIODS = ["day", "month", "total"] as const;
export const ZBudgetPeriod = namedEnum(BUDGET_PERIODS, "budget period");
export type TBudgetPeriod = z.infer<typeof ZBudgetPeriod>;

/**
 * When the budget period containing `at` began, in UTC (undefined for "total": all time).
 * The gateway enforces budgets over this window; the admin shows spend over the same one.
 */
export function budgetPeriodStart(period: TBudgetPeriod, at = new Date()): Date | undefined {
  if (period === "total") return undefined;
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), period === "day" ? at.getUTCDate() : 1));
}

const ZKeyName = z.string().trim().min(1, "Name is required").max(100);
const ZModelNames = z.array(z.string().trim().min(1).max(200)).max(100);
const ZRateLimit = z.number().int("rateLimitPerMin must be a whole number").min(1, "rateLimitPerMin must be at least 1").max(1_000_000);
export const ZBudgetUsd = z.number().min(0, "budgetUsd must not be negative").max(1e9);
const ZFutureDate = z.iso.datetime({ offset: true }).refine((s) => Date.parse(s) > Date.now(), "expiresAt must be in the future");
/** Tags every request made with the key carries in the request log, before the request's own (x-switchboard-tags). */
const ZKeyTags = z.array(ZRequestTag).max(REQUEST_TAGS.max, `A key carries at most ${REQUEST_TAGS.max} tags`);

export const ZKeyCreateInput = z.object({
  name: ZKeyName,
  expiresAt: ZFutureDate.optional(),
  /** Defaults to DEFAULT_KEY_SCOPES (still bounded by the owner's role). */
  scopes: z.array(ZKeyScope).min(1).max(KEY_SCOPES.length).optional(),
  /** Model names the key may ask for; empty or absent = any model. */
  models: ZModelNames.optional(),
  tags: ZKeyTags.optional(),
  rateLimitPerMin: ZRateLimit.optional(),
  budgetUsd: ZBudgetUsd.optional(),
  budgetPeriod: ZBudgetPeriod.optional(),
});
export type TKeyCreateInput = z.infer<typeof ZKeyCreateInput>;

export const ZKeyUpdateInput = z.object({
  id: ZId,
  name: ZKeyName.optional(),
  expiresAt: ZFutureDate.nullable().optional(),
  scopes: z.array(ZKeyScope).min(1).max(KEY_SCOPES.length).optional(),
  models: ZModelNames.optional(),
  tags: ZKeyTags.optional(),
  rateLimitPerMin: ZRateLimit.nullable().optional(),
  budgetUsd: ZBudgetUsd.nullable().optional(),
  budgetPeriod: ZBudgetPeriod.optional(),
});
export type TKeyUpdateInput = z.infer<typeof ZKeyUpdateInput>;

export const ZKeyIdInput = z.object({ id: ZId });
export type TKeyIdInput = z.infer<typeof ZKeyIdInput>;

export const ZKeysListInput = ZPageInput.extend({
  /** ADMIN only: one owner's keys. */
  userId: ZId.optional(),
  includeRevoked: z.boolean().default(false),
}).optional();
export type TKeysListInput = z.infer<typeof ZKeysListInput>;

export const ZApiKey = z.object({
  id: z.string(),
  /** The first characters of the secret, enough to recognise it (`sb-` + 8). */
  prefix: z.string(),
  name: z.string(),
  owner: z.object({ id: z.string(), email: z.string(), role: ZRole }),
  scopes: z.array(ZKeyScope),
  models: z.array(z.string()),
  tags: z.array(z.string()),
  rateLimitPerMin: z.number().nullable(),
  budgetUsd: z.number().nullable(),
  budgetPeriod: ZBudgetPeriod,
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
  /** Spend of the current budget period (all time when the period is "total"). */
  spendUsd: z.number(),
  /** Spend over all time. */
  totalSpendUsd: z.number(),
  requests: z.number(),
});
export type TApiKey = z.infer<typeof ZApiKey>;

/** keys.create's answer: the only time the secret `key` is shown. */
export const ZApiKeyCreated = ZApiKey.extend({ key: z.string() });
export type TApiKeyCreated = z.infer<typeof ZApiKeyCreated>;

/**
 * Tag budgets the gateway holds at once: every instance keeps them all in memory, to check a
 * request's tags without a round trip.
 */
export const TAG_BUDGET_LIMITS = { max: 500 } as const;

/** A spending cap on every request carrying `tag` (its x-switchboard-tags, or its API key's tags). */
export const ZTagBudgetSetInput = z.object({
  tag: ZRequestTag,
  budgetUsd: ZBudgetUsd,
  budgetPeriod: ZBudgetPeriod.default("month"),
  /**
   * Only API keys that carry the tag may charge it: a request naming it in x-switchboard-tags
   * otherwise is refused (403). Left out: as it was (false for a new budget).
   */
  keysOnly: z.boolean().optional(),
});
export type TTagBudgetSetInput = z.input<typeof ZTagBudgetSetInput>;

export const ZTagBudgetRemoveInput = z.object({ tag: ZRequestTag });
export type TTagBudgetRemoveInput = z.infer<typeof ZTagBudgetRemoveInput>;

export const ZTagBudget = z.object({
  tag: z.string(),
  budgetUsd: z.number(),
  budgetPeriod: ZBudgetPeriod,
  /** Only requests made with an API key carrying the tag may carry it. */
  keysOnly: z.boolean(),
  /** Spend of the requests carrying the tag in the current budget period (all time when "total"). */
  spendUsd: z.number(),
  /** Their spend over all time (as far back as the request log, and pruned spend since the budget was set). */
  totalSpendUsd: z.number(),
  requests: z.number(),
  updatedAt: z.string(),
});
export type TTagBudget = z.infer<typeof ZTagBudget>;
