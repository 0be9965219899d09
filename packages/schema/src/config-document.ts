/**
 * The gateway's configuration as one document — providers and model routes — for keeping it
 * in version control and applying it from a pipeline (`config.export`, `config.import`,
 * `switchboard config export|apply`). A document says what should exist; applying it changes
 * only what differs, in one transaction, as one configuration version.
 */
import { z } from "zod";
import { ZPageInput, pageOf } from "./common.ts";
import { ZConfigChange, ZModelUpsertInput, ZProviderApiKey, ZProviderCreateInput, ZProviderHeaders } from "./providers.ts";

export const CONFIG_DOCUMENT_LIMITS = { maxProviders: 200, maxModels: 500 } as const;

/**
 * A provider as a document states it. Its secrets are written only to change them: `apiKey`
 * and `headers` left out leave what is set (an export never holds them); `apiKey: null`
 * removes the key, `headers: {}` removes every header. Other optional fields left out mean
 * their default.
 */
export const ZConfigDocumentProvider = ZProviderCreateInput.extend({
  apiKey: ZProviderApiKey.nullable().optional(),
  headers: ZProviderHeaders.optional(),
});
export type TConfigDocumentProvider = z.infer<typeof ZConfigDocumentProvider>;

const distinctNames = (items: ReadonlyArray<{ name: string }>) => new Set(items.map((i) => i.name)).size === items.length;

export const ZConfigDocument = z.object({
  providers: z
    .array(ZConfigDocumentProvider)
    .max(CONFIG_DOCUMENT_LIMITS.maxProviders)
    .refine(distinctNames, "Two providers have the same name"),
  models: z
    .array(ZModelUpsertInput)
    .max(CONFIG_DOCUMENT_LIMITS.maxModels)
    .refine(distinctNames, "Two models have the same name"),
});
export type TConfigDocument = z.infer<typeof ZConfigDocument>;

export const ZConfigImportInput = z.object({
  document: ZConfigDocument,
  /** Also delete the providers and models the document does not name (never `auto` or the offline template). */
  prune: z.boolean().default(false),
  /** Only say what applying would change. */
  dryRun: z.boolean().default(false),
});
export type TConfigImportInput = z.input<typeof ZConfigImportInput>;

/** One change an apply makes (or would make), with the fields that differ. */
export const ZConfigStep = z.object({
  action: z.enum(["create", "update", "delete"]),
  kind: z.enum(["provider", "model"]),
  name: z.string(),
  /** For an update: the fields that change (a secret's name, never its value). */
  fields: z.array(z.string()),
});
export type TConfigStep = z.infer<typeof ZConfigStep>;

export const ZConfigImportResult = z.object({
  dryRun: z.boolean(),
  /** In the order they are (or would be) made: providers created or updated, models, then deletions. */
  steps: z.array(ZConfigStep),
  /** Providers and models the document names that already match it. */
  unchanged: z.number().int().nonnegative(),
  /** The version the changes made and how far it spread; null when nothing changed (or a dry run). */
  change: ZConfigChange.nullable(),
});
export type TConfigImportResult = z.infer<typeof ZConfigImportResult>;

export const ZConfigHistoryInput = ZPageInput.extend({
  /** One provider's or route's changes, by name. */
  target: z.string().trim().min(1).max(200).optional(),
}).optional();
export type TConfigHistoryInput = z.infer<typeof ZConfigHistoryInput>;

/** One audited change of the configuration: what, by whom (and with which API key), when. Never a secret's value. */
export const ZConfigHistoryEntry = z.object({
  id: z.string(),
  version: z.number().int(),
  /** `provider.create|update|delete`, `model.upsert|delete`, or `seed` (the first start). */
  action: z.string(),
  target: z.string(),
  actorId: z.string().nullable(),
  actorEmail: z.string().nullable(),
  /** The API key the change came with (configuration as code), and its name while it exists. */
  actorKeyId: z.string().nullable(),
  actorKeyName: z.string().nullable(),
  /** The fields set; a secret only as "set" or "removed", headers by name. */
  changes: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
});
export type TConfigHistoryEntry = z.infer<typeof ZConfigHistoryEntry>;
export const ZConfigHistoryPage = pageOf(ZConfigHistoryEntry);
export type TConfigHistoryPage = z.infer<typeof ZConfigHistoryPage>;
