/**
 * Providers and model routes as data: what the providers.* and models.* procedures take and
 * answer. Secrets go in (apiKey, header values) and never come out: items carry masks.
 */
import { z } from "zod";
import { ZProviderId } from "./chat.ts";
import { pageOf } from "./common.ts";

/** Kinds an operator can create; `template` (offline answers) exists once, seeded. */
export const PROVIDER_KINDS = ["openai-compatible", "anthropic", "ollama", "azure-openai"] as const;
export const ZProviderKind = z.enum(PROVIDER_KINDS, {
  error: (issue) => `Unknown kind ${JSON.stringify(issue.input)}; expected one of ${PROVIDER_KINDS.join(", ")}`,
});
export type TProviderKind = (typeof PROVIDER_KINDS)[number] | "template";

export const PROVIDER_LIMITS = {
  maxModels: 200,
  maxHeaders: 32,
  modelNameMaxChars: 200,
  apiKeyMaxChars: 4_000,
  minTimeoutMs: 100,
  maxTimeoutMs: 600_000,
} as const;

/** Checked for form only: a host that is down or a wrong key is reported by providers.test. */
export const ZBaseUrl = z
  .string({ error: "baseUrl must be a string" })
  .trim()
  .max(2_000, "baseUrl is too long")
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "" && !url.username && !url.password;
    } catch {
      return false;
    }
  }, "baseUrl must be an http(s) URL such as https://api.example.com/v1 (no credentials in it)")
  // Paths are appended to it as text: after a "?" they land in the query ("/v1?x=1/chat/completions"), after a "#" nowhere (every call goes to "/v1").
  .refine((value) => !value.includes("?") && !value.includes("#"), "baseUrl may not hold a query (?…) or a fragment (#…): the gateway appends each endpoint's path to it")
  .refine((value) => !isMetadataHost(value), "baseUrl points at a link-local or cloud metadata address (169.254.x.x, fe80::/10, metadata.google.internal…), where no model provider answers but the machine's own credentials do");

/**
 * Names of the cloud metadata services (GCP; AWS's own for its 169.254.169.254), and the
 * link-local ranges they answer on (AWS's IPv6 one is fd00:ec2::254). A provider there would
 * have every instance GET it every 30 s with the provider's headers, and a provider's call,
 * test and probe are what read it: no model provider lives there.
 */
const METADATA_NAMES = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"]);
function isMetadataHost(value: string): boolean {
  let host: string;
  try {
    host = new URL(value).hostname.toLowerCase().replace(/\.$/, "");
  } catch {
    return false; // refused above
  }
  if (METADATA_NAMES.has(host) || /^169\.254\./.test(host)) return true;
  // IPv6 as the URL parser writes it: fe80::/10, AWS's fd00:ec2::254, and IPv4-mapped 169.254.x.x.
  return /^\[fe[89ab][0-9a-f]:/.test(host) || host === "[fd00:ec2::254]" || /^\[::ffff:a9fe:/.test(host);
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/**
 * What HTTP can carry in a header value (RFC 9110: visible ASCII, space, tab, and bytes
 * 0x80-0xFF). Anything else (a control character, an emoji) would be stored and applied by
 * every instance, and then make every call to the provider fail before it is sent.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * Headers that describe one connection or one message, which the gateway sets for each
 * request: a configured `content-length` or `transfer-encoding` corrupts every call.
 */
const PER_MESSAGE_HEADERS = new Set(["connection", "content-length", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);
/**
 * Headers that say where a request goes: where a provider's calls (and its key) go is its
 * baseUrl, never a header beside it (a `Host` would send them to another virtual host).
 */
const ROUTING_HEADERS = new Set(["host", "forwarded", "x-forwarded-host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-original-host", "x-real-ip"]);
/** Why a header may not be configured, or undefined when it may. */
function headerNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return "A header name must be a token (letters, digits, '-')";
  if (PER_MESSAGE_HEADERS.has(name.toLowerCase())) return "This header is set by Switchboard for each request";
  if (ROUTING_HEADERS.has(name.toLowerCase())) return "This header says where the request goes: set baseUrl instead";
  return undefined;
}

export const ZProviderHeaders = z
  .record(z.string(), z.string().max(4_000).regex(HEADER_VALUE, "A header value may hold only printable characters, spaces and tabs (no line breaks or control characters)"))
  // Names checked here rather than by the record's key schema, whose refusal zod reports only
  // as "Invalid key in record": the message says which header and why.
  .superRefine((headers, ctx) => {
    // HTTP names are case-insensitive: "X-Org" and "x-org" are one header, which calls sent
    // with one of the two values and the health probe with both joined ("a, b").
    const seen = new Set<string>();
    for (const name of Object.keys(headers)) {
      const problem = headerNameProblem(name) ?? (seen.has(name.toLowerCase()) ? "This header is named twice (header names ignore case)" : undefined);
      if (problem) ctx.addIssue({ code: "custom", message: problem, path: [name] });
      seen.add(name.toLowerCase());
    }
  })
  .refine((h) => Object.keys(h).length <= PROVIDER_LIMITS.maxHeaders, `At most ${PROVIDER_LIMITS.maxHeaders} headers`);

export const ZUpstreamModelName = z.string().trim().min(1, "A model name is empty").max(PROVIDER_LIMITS.modelNameMaxChars);

/** A provider's API key as given: sent upstream, stored sealed, never shown again. */
export const ZProviderApiKey = z
  .string()
  .trim()
  .min(1, "apiKey is empty (leave it out instead)")
  .max(PROVIDER_LIMITS.apiKeyMaxChars)
  // Sent in a header (Authorization, x-api-key or api-key), so it is held to the same rule.
  .regex(HEADER_VALUE, "apiKey may hold only printable characters (no line breaks, control characters or emoji)");

const providerFields = {
  name: ZProviderId,
  kind: ZProviderKind,
  baseUrl: ZBaseUrl,
  apiKey: ZProviderApiKey.optional(),
  headers: ZProviderHeaders.optional(),
  timeoutMs: z.number().int().min(PROVIDER_LIMITS.minTimeoutMs).max(PROVIDER_LIMITS.maxTimeoutMs).optional(),
  models: z
    .array(ZUpstreamModelName)
    .max(PROVIDER_LIMITS.maxModels)
    .refine((m) => new Set(m).size === m.length, "A model is listed twice"),
  /** azure-openai: the api-version query parameter (default 2024-10-21). */
  apiVersion: z.string().trim().regex(/^[0-9A-Za-z.-]{1,40}$/, "apiVersion looks like 2024-10-21").optional(),
  /** Health probe path under baseUrl (default: the kind's models endpoint). */
  healthPath: z.string().trim().regex(/^\/[^\s]{0,200}$/, "healthPath is a path starting with /").optional(),
};

export const ZProviderCreateInput = z.object(providerFields);
export type TProviderCreateInput = z.infer<typeof ZProviderCreateInput>;

/** Fields left out stay as they are; `apiKey: null` removes the key. */
export const ZProviderUpdateInput = z.object({
  id: z.string().uuid(),
  name: providerFields.name.optional(),
  kind: providerFields.kind.optional(),
  baseUrl: providerFields.baseUrl.optional(),
  apiKey: ZProviderApiKey.nullable().optional(),
  headers: providerFields.headers.nullable().optional(),
  timeoutMs: providerFields.timeoutMs.nullable().optional(),
  models: providerFields.models.optional(),
  apiVersion: providerFields.apiVersion.nullable().optional(),
  healthPath: providerFields.healthPath.nullable().optional(),
});
export type TProviderUpdateInput = z.infer<typeof ZProviderUpdateInput>;

export const ZProviderIdInput = z.object({ id: z.string().uuid() });
export type TProviderIdInput = z.infer<typeof ZProviderIdInput>;

export const ZProviderListInput = z
  .object({ cursor: z.string().min(1).max(200).optional(), limit: z.number().int().min(1).max(100).default(100) })
  .optional()
  .transform((v) => v ?? { limit: 100 });
export type TProviderListInput = z.input<typeof ZProviderListInput>;

export const ZProviderHealth = z.object({
  /** reachable: any HTTP answer (401 included); unreachable: no answer; unknown: not probed yet. */
  state: z.enum(["unknown", "reachable", "unreachable"]),
  latencyMs: z.number().int().nonnegative().nullable(),
  lastError: z.string().nullable(),
  checkedAt: z.string().nullable(),
});
export type TProviderHealth = z.infer<typeof ZProviderHealth>;

export const ZCircuit = z.object({
  state: z.enum(["closed", "open", "half_open"]),
  consecutiveFailures: z.number().int().nonnegative(),
  retryAt: z.number().nullable(),
});

export const ZProviderItem = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum([...PROVIDER_KINDS, "template"]),
  baseUrl: z.string().nullable(),
  /** `sk-…a1b2`, or null when no key is set. The key itself is never returned. */
  apiKeyMasked: z.string().nullable(),
  /** Header names with masked values. */
  headers: z.record(z.string(), z.string()),
  /**
   * Stored secrets this instance cannot decrypt (sealed under another SECRETS_KEY): the
   * provider is not called until they are set again. An unreadable key shows as `(unreadable)`.
   */
  unreadableSecrets: z.array(z.enum(["apiKey", "headers"])),
  timeoutMs: z.number().int().nullable(),
  models: z.array(z.string()),
  apiVersion: z.string().nullable(),
  healthPath: z.string().nullable(),
  /** `env` when seeded from environment variables on first start. */
  source: z.enum(["env", "api"]),
  health: ZProviderHealth,
  circuit: ZCircuit,
  /** Model routes whose targets use this provider. */
  usedBy: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type TProviderItem = z.infer<typeof ZProviderItem>;
export const ZProviderPage = pageOf(ZProviderItem);
export type TProviderPage = z.infer<typeof ZProviderPage>;

/**
 * What every providers.* / models.* change answers with: the configuration version it
 * produced and how many live instances applied it before the answer was sent.
 */
export const ZConfigChange = z.object({
  version: z.number().int().nonnegative(),
  acknowledgedBy: z.number().int().nonnegative(),
  liveInstances: z.number().int().nonnegative(),
  pendingInstances: z.array(z.string()),
  propagation: z.enum(["confirmed", "partial", "local"]),
});
export type TConfigChange = z.infer<typeof ZConfigChange>;

export const ZProviderChangeResult = ZConfigChange.extend({ provider: ZProviderItem.nullable() });
export type TProviderChangeResult = z.infer<typeof ZProviderChangeResult>;

export const ZProviderTestResult = z.object({
  ok: z.boolean(),
  latencyMs: z.number().int().nonnegative(),
  /** The upstream's own answer when it failed (e.g. `401: invalid api key`). */
  error: z.string().optional(),
  status: z.number().int().optional(),
  model: z.string().optional(),
});
export type TProviderTestResult = z.infer<typeof ZProviderTestResult>;

// ---- models (routes) ----

/** A public model name: what clients send as `model` and what /v1/models lists. */
export const ZModelName = z
  .string({ error: "name must be a string" })
  .trim()
  .min(1, "name is empty")
  .max(200, "name is too long")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/, "A model name is letters, digits and . _ : / @ + -, starting with a letter or digit");

export const AUTO_MODEL = "auto";
/** maxCacheTtlSec: the longest an answer may be kept in the response cache, asked by a request or a route. */
export const MODEL_LIMITS = { maxTargets: 32, maxPricePerMTok: 100_000, maxCacheTtlSec: 24 * 60 * 60 } as const;

const ZPrice = z.number().min(0, "A price is not negative").max(MODEL_LIMITS.maxPricePerMTok);

export const ZRouteTarget = z.object({
  provider: ZProviderId,
  upstreamModel: ZUpstreamModelName,
  /** Share of traffic among healthy weighted targets; unweighted targets are fallback only. */
  weight: z.number().gt(0, "weight must be greater than 0").max(1_000_000).optional(),
});
export type TRouteTarget = z.infer<typeof ZRouteTarget>;

export const ZModelUpsertInput = z.object({
  name: ZModelName,
  targets: z.array(ZRouteTarget).min(1, "A route needs at least one target").max(MODEL_LIMITS.maxTargets),
  /** USD per million tokens. */
  inputPricePerMTok: ZPrice.optional(),
  outputPricePerMTok: ZPrice.optional(),
  cachedInputPricePerMTok: ZPrice.optional(),
  /**
   * Requests this route serves use the response cache without asking, keeping answers this
   * many seconds (a request's own x-switchboard-cache-ttl and Cache-Control still decide);
   * absent = the cache only when a request asks.
   */
  cacheTtlSec: z
    .int("cacheTtlSec: a whole number of seconds")
    .min(1, "cacheTtlSec: at least 1 second (leave it out to cache only when asked)")
    .max(MODEL_LIMITS.maxCacheTtlSec, `cacheTtlSec: at most ${MODEL_LIMITS.maxCacheTtlSec} seconds (a day)`)
    .optional(),
});
export type TModelUpsertInput = z.infer<typeof ZModelUpsertInput>;

export const ZModelDeleteInput = z.object({ name: ZModelName });
export type TModelDeleteInput = z.infer<typeof ZModelDeleteInput>;

export const ZModelListInput = ZProviderListInput;

export const ZModelItem = z.object({
  name: z.string(),
  targets: z.array(z.object({ provider: z.string(), upstreamModel: z.string(), weight: z.number().nullable() })),
  inputPricePerMTok: z.number().nullable(),
  outputPricePerMTok: z.number().nullable(),
  cachedInputPricePerMTok: z.number().nullable(),
  /** Seconds its requests' answers are kept in the response cache without asking; null = only when asked. */
  cacheTtlSec: z.number().nullable(),
  /** The default route: editable, never deletable. */
  isDefault: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type TModelItem = z.infer<typeof ZModelItem>;
export const ZModelPage = pageOf(ZModelItem);
export type TModelPage = z.infer<typeof ZModelPage>;

export const ZModelChangeResult = ZConfigChange.extend({ model: ZModelItem.nullable() });
export type TModelChangeResult = z.infer<typeof ZModelChangeResult>;
