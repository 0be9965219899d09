/**
 * The gateway's configuration as one document — providers and model routes — for keeping it
 * in version control and applying it from a pipeline (`config.export`, `config.import`,
 * `switchboard config export|apply`). A document says what should exist; applying it changes
 * only what differs, in one transaction, as one configuration version.
 */
import { z } from "zod";
import { formatMegabytes } from "./byte-sizes.ts";
import { ZPageInput, pageOf } from "./common.ts";
import { MODEL_LIMITS, PROVIDER_KINDS, ZConfigChange, ZModelUpsertInput, ZProviderApiKey, ZProviderCreateInput, ZProviderHeaders, ZRouteTarget } from "./providers.ts";

/**
 * What one document may hold, which is also what the gateway may hold (so that an export
 * always applies back). `maxBytes`: the document as compact JSON (what the CLI, the admin and
 * the typed client send), which `config.import`'s body limit makes room for. A gateway at both
 * counts with every name at its longest exports about 13 MB; the field limits alone would let
 * a document stating every secret at its longest reach tens of MB, which no request should.
 */
export const CONFIG_DOCUMENT_LIMITS = { maxProviders: 200, maxModels: 500, maxBytes: 16_777_216 /* 16 MB */ } as const;

/** config.import's request body: the document at its largest, and room for the call's other fields (and a batch's envelope). */
export const CONFIG_IMPORT_BODY_LIMIT_BYTES = CONFIG_DOCUMENT_LIMITS.maxBytes + 64 * 1024;

const documentBytes = (document: unknown) => new TextEncoder().encode(JSON.stringify(document)).byteLength;

/**
 * A provider as a document states it. Its secrets are written only to change them: `apiKey`
 * and `headers` left out leave what is set (an export never holds them); `apiKey: null`
 * removes the key, `headers: {}` removes every header. Other optional fields left out mean
 * their default.
 */
export const ZConfigDocumentProvider = ZProviderCreateInput.extend({
  apiKey: ZProviderApiKey.nullable().optional(),
  headers: ZProviderHeaders.optional(),
}).strict();
export type TConfigDocumentProvider = z.infer<typeof ZConfigDocumentProvider>;

/** A route as a document states it; a price left out means the route has none. */
export const ZConfigDocumentModel = ZModelUpsertInput.extend({
  targets: z.array(ZRouteTarget.strict()).min(1, "A route needs at least one target").max(MODEL_LIMITS.maxTargets),
}).strict();

const distinctNames = (items: ReadonlyArray<{ name: string }>) => new Set(items.map((i) => i.name)).size === items.length;

/**
 * Strict throughout: a field the document does not know (a typo such as `timeoutMS`) is a
 * 400 naming it, never ignored — ignored, it would read as "default" and reset the setting.
 */
export const ZConfigDocument = z
  .object({
    providers: z
      .array(ZConfigDocumentProvider)
      .max(CONFIG_DOCUMENT_LIMITS.maxProviders)
      .refine(distinctNames, "Two providers have the same name"),
    models: z
      .array(ZConfigDocumentModel)
      .max(CONFIG_DOCUMENT_LIMITS.maxModels)
      .refine(distinctNames, "Two models have the same name"),
  })
  .strict()
  // Checked last, on a document otherwise valid: the body limit bounds what gets this far.
  .superRefine((document, ctx) => {
    const bytes = documentBytes(document);
    if (bytes > CONFIG_DOCUMENT_LIMITS.maxBytes) {
      ctx.addIssue({ code: "custom", message: `A document is at most ${formatMegabytes(CONFIG_DOCUMENT_LIMITS.maxBytes)} as JSON; this one is ${formatMegabytes(bytes)}: apply it in parts (without prune)` });
    }
  });
export type TConfigDocument = z.infer<typeof ZConfigDocument>;

/**
 * A document as exported: the stored values as they are, without the input's checks (an
 * export must never fail on what the database holds, e.g. a model name seeded with spaces).
 * Its fields are the document's, checked below.
 */
export const ZConfigExport = z.object({
  providers: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(PROVIDER_KINDS),
      baseUrl: z.string(),
      models: z.array(z.string()),
      timeoutMs: z.number().optional(),
      apiVersion: z.string().optional(),
      healthPath: z.string().optional(),
    }),
  ),
  models: z.array(
    z.object({
      name: z.string(),
      targets: z.array(z.object({ provider: z.string(), upstreamModel: z.string(), weight: z.number().optional() })),
      inputPricePerMTok: z.number().optional(),
      outputPricePerMTok: z.number().optional(),
      cachedInputPricePerMTok: z.number().optional(),
      cacheTtlSec: z.number().optional(),
    }),
  ),
});
export type TConfigExport = z.infer<typeof ZConfigExport>;

/**
 * The export and the document name the same fields (the export without secrets): a field
 * added to a provider, a route or a target without its export counterpart fails the build here,
 * instead of going missing from every export.
 */
type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : { namedOnOneSideOnly: Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A> };
type ExportedProvider = TConfigExport["providers"][number];
type ExportedModel = TConfigExport["models"][number];
const exportNamesEveryField: [
  SameKeys<ExportedProvider, Omit<TConfigDocumentProvider, "apiKey" | "headers">>,
  SameKeys<ExportedModel, z.infer<typeof ZConfigDocumentModel>>,
  SameKeys<ExportedModel["targets"][number], z.infer<typeof ZRouteTarget>>,
] = [true, true, true];
void exportNamesEveryField;

export const ZConfigImportInput = z.strictObject({
  document: ZConfigDocument,
  /** Also delete the providers and models the document does not name (never `auto` or the offline template). */
  prune: z.boolean().default(false),
  /** Only say what applying would change (every change is tried, then rolled back). */
  dryRun: z.boolean().default(false),
  /**
   * Apply only if the configuration is still at this version (what a dry run answered): a
   * change made meanwhile is a 409, so what is applied is exactly what was previewed.
   */
  ifVersion: z.number().int().nonnegative().optional(),
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

/** How the CLI and the admin mark a step: + create, ~ update, - delete. */
export const CONFIG_STEP_MARKS = { create: "+", update: "~", delete: "-" } as const satisfies Record<TConfigStep["action"], string>;

export const ZConfigImportResult = z.object({
  dryRun: z.boolean(),
  /** The version the document was compared with (send it back as `ifVersion` to apply exactly this). */
  basedOn: z.number().int().nonnegative(),
  /** In the order they are (or would be) made: routes pruned, providers created or updated, routes, then providers pruned. */
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
