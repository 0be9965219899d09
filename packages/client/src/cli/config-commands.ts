/**
 * `switchboard config export|apply`: the gateway's providers and model routes as a JSON or
 * YAML document kept in version control, applied from a pipeline. The server plans and applies
 * (one transaction, one configuration version); this side reads the file and fills in the
 * secrets it names from the environment variables the operator allows (config-placeholders.ts),
 * so the file itself holds none.
 */
import { createReadStream } from "node:fs";
import type { CONFIG_DOCUMENT_LIMITS, CONFIG_STEP_MARKS, MAX_INPUT_DEPTH } from "@switchboard/schema";
import { formatMegabytes } from "@switchboard/schema/byte-sizes";
import { readYamlDocument, writeYamlDocument } from "@switchboard/schema/config-yaml";
import { TRPCClientError, type SwitchboardClient } from "../index.ts";
import { readAtMost } from "./bounded-read.ts";
import type { CliIo } from "./io.ts";
import { fillPlaceholders, parseEnvAllowance } from "./config-placeholders.ts";
import { ForeignAnswer } from "./foreign-answer.ts";
import { terminalLine } from "./terminal-text.ts";
import { CommandUsageError } from "./usage-commands.ts";

export const CONFIG_COMMANDS_HELP = `  config export [--yaml]         Providers and model routes as a JSON (or YAML) document,
                                 without secrets (ADMIN)
  config apply <file>|- [--dry-run] [--prune] [--if-version <n>] [--yaml]
         [--allow-env <NAME[,NAME…]>]
                                 Make the configuration what the document says, as one version
                                 (SuperAdmin, or a key with write:config); --dry-run shows what
                                 would change, --prune also deletes what it does not name,
                                 --if-version applies only if nothing changed since the dry run
                                 that named that version.
                                 A .yaml/.yml file (or --yaml) is read as YAML, a .json one
                                 as JSON (anything else: JSON if it starts with "{").
                                 "\${NAME}" in a provider's apiKey or header value (nowhere
                                 else) reads $NAME only if allowed by --allow-env NAME,…
                                 (repeatable; 'OPENAI_*' allows a prefix; NAME@api.openai.com
                                 only for a provider whose baseUrl is https on that host,
                                 NAME@http://host:port over plain http) or by the same list
                                 in $SWITCHBOARD_CONFIG_ENV; never SWITCHBOARD_*.
  config history [<name>] [--limit <n>]
                                 Who changed which provider or route, when, with which key
                                 (ADMIN, or a key with write:config)`;

export interface ConfigOptions {
  dryRun: boolean;
  prune: boolean;
  limit: string | undefined;
  ifVersion: string | undefined;
  yaml: boolean;
  json: boolean;
  /** config apply: the variables "${NAME}" may read (with SWITCHBOARD_CONFIG_ENV's). */
  allowEnv: string[];
}

type Print = (value: unknown, human: string) => void;

/**
 * The schema's marks, repeated because the published CLI carries no zod (the schema module
 * imports it); the type holds this copy to the same characters.
 */
const MARKS: typeof CONFIG_STEP_MARKS = { create: "+", update: "~", delete: "-" };
/** The largest document the server takes (its body limit makes room for it), copied for the same reason, held to the same value. */
const MAX_DOCUMENT_BYTES: typeof CONFIG_DOCUMENT_LIMITS.maxBytes = 16_777_216;
type ApplyInput = Parameters<SwitchboardClient["config"]["import"]["mutate"]>[0];
type ApplyResult = Awaited<ReturnType<SwitchboardClient["config"]["import"]["mutate"]>>;

export async function runConfig(client: () => Promise<SwitchboardClient>, action: string | undefined, args: string[], o: ConfigOptions, io: CliIo, print: Print): Promise<void> {
  switch (action) {
    case "export": {
      if (o.yaml && o.json) throw new CommandUsageError("config export takes --yaml or --json, not both");
      const document = await (await client()).config.export.query();
      // A document either way, which `config apply` reads back: JSON, or YAML when asked
      // (written as the admin's YAML download writes it).
      if (o.yaml) return void io.stdout.write(writeYamlDocument(document));
      return print(document, JSON.stringify(document, null, 2));
    }
    case "apply": {
      const source = args[0];
      if (!source) throw new CommandUsageError("config apply needs a file (or - for standard input): config apply gateway.json");
      const ifVersion = o.ifVersion === undefined ? undefined : Number(o.ifVersion);
      if (ifVersion !== undefined && !(Number.isInteger(ifVersion) && ifVersion >= 0)) throw new CommandUsageError(`--if-version must be a version number (a dry run names it), got ${JSON.stringify(o.ifVersion)}`);
      const allowance = parseEnvAllowance(o.allowEnv, io.env);
      // A dry run fills (and refuses) exactly as the apply would: it previews the same document.
      const document = fillPlaceholders(parseConfigDocument(await readSource(source, io), source, o.yaml), io.env, allowance);
      const bytes = Buffer.byteLength(JSON.stringify(document));
      if (bytes > MAX_DOCUMENT_BYTES) throw new CommandUsageError(`${source}: the document is ${formatMegabytes(bytes)} as JSON, over the ${formatMegabytes(MAX_DOCUMENT_BYTES)} one apply takes: apply it in parts (each without --prune)`);
      const input = { document: document as ApplyInput["document"], dryRun: o.dryRun, prune: o.prune, ...(ifVersion !== undefined ? { ifVersion } : {}) };
      const result = await (await client()).config.import.mutate(input).catch((error: unknown) => {
        throw tooLarge(error, bytes) ?? error;
      });
      return print(result, describeApply(result));
    }
    case "history": {
      const limit = o.limit === undefined ? 20 : Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new CommandUsageError(`--limit must be a whole number from 1 to 100, got ${JSON.stringify(o.limit)}`);
      const page = await (await client()).config.history.query({ limit, ...(args[0] ? { target: args[0] } : {}) });
      const rows = page.items.map((e) => {
        const who = `${e.actorEmail ?? "(the environment)"}${e.actorKeyId ? ` with key ${e.actorKeyName ? `"${e.actorKeyName}"` : e.actorKeyId}` : ""}`;
        // One line each: a key's name (or a target) with a newline could otherwise forge a row.
        return terminalLine(`v${e.version}  ${e.createdAt.slice(0, 19).replace("T", " ")}  ${e.action.padEnd(15)}  ${e.target}  by ${who}  ${JSON.stringify(e.changes)}`);
      });
      return print(page, rows.length === 0 ? "No changes recorded." : rows.join("\n"));
    }
    default:
      throw new CommandUsageError(action ? `Unknown config command: ${action}` : "config needs a command: export, apply or history");
  }
}

/**
 * A 413 for a document within what Switchboard takes comes from a proxy in front of it (an
 * ingress's 1 MB default), or from a server older than this CLI: say which limit to raise.
 */
function tooLarge(error: unknown, bytes: number): Error | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus ?? (error.cause instanceof ForeignAnswer ? error.cause.status : undefined);
  if (status !== 413) return undefined;
  return new Error(
    `the document (${formatMegabytes(bytes)} as JSON) was refused as too large (HTTP 413${error.data ? `: ${error.message}` : ", not from Switchboard"}). ` +
      `Switchboard takes a document of up to ${formatMegabytes(MAX_DOCUMENT_BYTES)}: if a proxy or ingress stands in front of it, raise its request body limit for /trpc/config.import to at least 17 MB ` +
      `(nginx: client_max_body_size); with an older Switchboard (1 MB for every call), upgrade it or apply the document in parts, each without --prune`,
  );
}

/**
 * What `config apply` reads from a file or standard input at most: a document as indented JSON
 * or YAML is larger than the compact JSON whose size the server limits, a few times at most.
 */
const MAX_SOURCE_BYTES = 4 * MAX_DOCUMENT_BYTES;

async function readSource(source: string, io: CliIo): Promise<string> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readAtMost((source === "-" ? io.stdin : createReadStream(source)) as AsyncIterable<Buffer | string>, MAX_SOURCE_BYTES);
  } catch (error) {
    throw new CommandUsageError(`cannot read ${source}: ${(error as Error).message}`);
  }
  if (bytes === undefined) {
    throw new CommandUsageError(`${source === "-" ? "standard input" : source} holds more than ${formatMegabytes(MAX_SOURCE_BYTES)}: no document apply takes is that large (${formatMegabytes(MAX_DOCUMENT_BYTES)} as JSON)`);
  }
  return withoutBom(bytes.toString("utf8"));
}

/** An editor's byte-order mark is no part of the document (JSON.parse would refuse it). */
const withoutBom = (text: string) => text.replace(/^\uFEFF/, "");

/** The document in `source`: YAML when asked or by its name (.yaml, .yml), JSON by its name or its first character. */
function parseConfigDocument(text: string, source: string, asYaml: boolean): Record<string, unknown> {
  const yaml = asYaml || /\.ya?ml$/i.test(source) || (!/\.json$/i.test(source) && !text.trimStart().startsWith("{"));
  const value = yaml ? parseYaml(text, source) : parseJson(text, source);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CommandUsageError(`${source} must hold an object with "providers" and "models"`);
  const deep = tooDeep(value);
  if (deep !== null) throw new CommandUsageError(`${source}: ${deep} is nested more than ${MAX_DEPTH} levels deep (a document needs five)`);
  return value as Record<string, unknown>;
}

/**
 * The server refuses input nested deeper than this (MAX_INPUT_DEPTH, held to the same value);
 * a file nested far deeper would not even be sent: the client's JSON.stringify overflows the
 * stack, which read as "cannot reach Switchboard".
 */
const MAX_DEPTH: typeof MAX_INPUT_DEPTH = 128;

/**
 * Where `value` first nests deeper than MAX_DEPTH (its top-level field), or null, counted as
 * the server counts the request: the document is a field of its input, so its own fields'
 * values are two levels down. Iterative: the nesting cannot overflow the stack here.
 */
function tooDeep(value: object): string | null {
  const stack: Array<{ node: unknown; depth: number; top: string }> = Object.entries(value).map(([key, node]) => ({ node, depth: 2, top: JSON.stringify(key) }));
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { node, depth, top } = next;
    if (typeof node !== "object" || node === null) continue;
    if (depth >= MAX_DEPTH) return top;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push({ node: child, depth: depth + 1, top });
  }
  return null;
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // Where, never what: the parser's message quotes the text around the fault, which may be a secret.
    const message = (error as Error).message;
    const where = /line (\d+) column (\d+)/.exec(message) ?? /position (\d+)/.exec(message);
    const at = where === null ? "" : where.length === 3 ? ` (line ${where[1]}, column ${where[2]})` : ` (at character ${where[1]})`;
    throw new CommandUsageError(`${source} is not JSON${at}; a JSON checker shows where`);
  }
}

/** Read as plain data (see readYamlDocument); a fault is told by where and what kind, never the text there. */
function parseYaml(text: string, source: string): unknown {
  const read = readYamlDocument(text);
  if ("value" in read) return read.value;
  const { line, column, kind } = read.fault;
  throw new CommandUsageError(`${source}${line === undefined ? "" : `, line ${line}, column ${column}`}: ${kind}`);
}

function describeApply(result: ApplyResult): string {
  const lines = result.steps.map((s) => `  ${MARKS[s.action]} ${s.kind} ${s.name}${s.fields.length > 0 ? `: ${s.fields.join(", ")}` : ""}`);
  const unchanged = `${result.unchanged} unchanged`;
  if (result.steps.length === 0) return `Nothing to change (${unchanged}).`;
  if (result.dryRun) {
    const exactly = `Compared with version ${result.basedOn}: apply with --if-version ${result.basedOn} to make exactly these changes.`;
    return [`Dry run: would make ${result.steps.length} change(s):`, ...lines, `${unchanged}; nothing was changed.`, exactly].join("\n");
  }
  const change = result.change;
  const spread = change ? ` as version ${change.version}; applied by ${change.acknowledgedBy} of ${change.liveInstances} instances` : "";
  return [`Made ${result.steps.length} change(s)${spread}:`, ...lines, `${unchanged}.`].join("\n");
}
