/**
 * `config apply`'s "${NAME}" placeholders: which environment variables a document may read,
 * and where in it. The document may come from someone else's merge request, and its
 * provider's baseUrl says where a filled-in apiKey or header goes; were every variable
 * readable, a document could ship the runner's cloud or CI credentials to a host its author
 * controls. So a placeholder is filled only from a variable the operator names (by name or by
 * prefix), only in the two secret-bearing fields, and never from the CLI's own settings; and
 * an entry bound to a host ("OPENAI_API_KEY@api.openai.com") fills it only in a provider whose
 * baseUrl points there, so a document that moves the provider elsewhere gets nothing.
 */
import { CommandUsageError } from "./usage-commands.ts";

/** The environment variable holding the allow list, for a pipeline that sets it once for every job. */
export const CONFIG_ENV_VARIABLE = "SWITCHBOARD_CONFIG_ENV";

/**
 * NAME, or a prefix ending in "*" ("OPENAI_*"; "*" alone: every variable), optionally bound to
 * a host: "@api.openai.com" (any port), "@localhost:8080" (that port only), "@[::1]:8080",
 * over https unless the host is this machine; "@http://vllm.internal:8000" allows plain http.
 */
const ENTRY = /^(?:[A-Za-z_][A-Za-z0-9_]*\*?|\*)(?:@(?:https?:\/\/)?(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?)?$/;
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const FIRST_PLACEHOLDER = new RegExp(PLACEHOLDER.source);

/**
 * The allowed names and prefixes: every --allow-env value and SWITCHBOARD_CONFIG_ENV together,
 * each a list separated by commas (or spaces, as a CI variable is often written). Both come
 * from the operator's pipeline, never from the document, so either one allowing a name is
 * enough. An entry that is not a name is a usage error rather than something that matches
 * nothing, so a typo cannot silently refuse (or allow) the wrong variables.
 */
export function parseEnvAllowance(flags: readonly string[], env: Record<string, string | undefined>): string[] {
  const lists = [...flags.map((text) => ({ text, from: "--allow-env" })), { text: env[CONFIG_ENV_VARIABLE] ?? "", from: CONFIG_ENV_VARIABLE }];
  return lists.flatMap(({ text, from }) =>
    text
      .split(/[\s,]+/)
      .filter((entry) => entry !== "")
      .map((entry) => {
        if (!ENTRY.test(entry) || !parsesAsEntry(entry)) {
          throw new CommandUsageError(`${from}: ${JSON.stringify(entry)} is not a variable name (NAME, or a prefix such as OPENAI_*, optionally bound to a host: NAME@api.example.com)`);
        }
        return entry;
      }),
  );
}

/** The CLI's own settings (its URL, its key or token), which a document never reads; in any case, as Windows matches names regardless of it. */
export const isOwnSetting = (name: string): boolean => name.toUpperCase().startsWith("SWITCHBOARD_");

/** Where a provider sends its secrets: its baseUrl's scheme, host and port (the port its scheme implies when none is written). */
export interface SecretTarget {
  protocol: string;
  hostname: string;
  port: string;
  /** As messages show it: scheme, host and a port that is not the scheme's own. */
  origin: string;
}

/** The target of a provider's baseUrl; null when the document gives none that parses (a bound entry then never matches). */
export function targetOf(baseUrl: unknown): SecretTarget | null {
  if (typeof baseUrl !== "string") return null;
  try {
    const url = new URL(baseUrl);
    return { protocol: url.protocol, hostname: url.hostname.toLowerCase(), port: url.port || (url.protocol === "https:" ? "443" : "80"), origin: url.origin };
  } catch {
    return null;
  }
}

/** This machine's names: a key sent over plain http to one never crosses a network. */
const isLoopback = (hostname: string) => hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);

interface Binding {
  names: string;
  /** Bound to this host (null: any host), on this port (null: any), over this scheme (null: https, or http on this machine). */
  host: string | null;
  port: string | null;
  protocol: string | null;
}

/** An entry split into the names it covers and where it is bound to. */
function parseEntry(entry: string): Binding {
  const at = entry.indexOf("@");
  if (at < 0) return { names: entry, host: null, port: null, protocol: null };
  const bound = entry.slice(at + 1);
  const scheme = /^https?:\/\//.exec(bound)?.[0];
  const hostPort = scheme ? bound.slice(scheme.length) : bound;
  // Through the URL parser, so the host compares as a baseUrl's does (case, IDN, IPv6 form).
  const url = new URL(`http://${hostPort}`);
  return {
    names: entry.slice(0, at),
    host: url.hostname.toLowerCase(),
    port: /:\d+$/.test(hostPort) ? hostPort.slice(hostPort.lastIndexOf(":") + 1) : null,
    protocol: scheme ? scheme.slice(0, -2) : null,
  };
}

/** Whether a binding lets a secret go to `target`. */
function bindingAllows(b: Binding, target: SecretTarget | null): boolean {
  if (b.host === null) return true;
  if (target === null || target.hostname !== b.host) return false;
  if (b.port !== null && Number(b.port) !== Number(target.port)) return false;
  return b.protocol !== null ? target.protocol === b.protocol : target.protocol === "https:" || isLoopback(target.hostname);
}

/** Whether the entry's host is one a URL can hold (a port past 65535 is not). */
function parsesAsEntry(entry: string): boolean {
  try {
    parseEntry(entry);
    return true;
  } catch {
    return false;
  }
}

const coversName = (names: string, name: string) => (names.endsWith("*") ? name.startsWith(names.slice(0, -1)) : name === names);

/**
 * Whether a placeholder may read variable `name` for a provider pointing at `target`: listed
 * by name or by a prefix, unbound or bound to that host (and port, when the entry names one;
 * over https, or plain http only to this machine or when the entry says http://), and not one
 * of the CLI's own.
 */
export function envAllowed(name: string, allowance: readonly string[], target: SecretTarget | null = null): boolean {
  if (isOwnSetting(name)) return false;
  return allowance.some((entry) => {
    const binding = parseEntry(entry);
    return coversName(binding.names, name) && bindingAllows(binding, target);
  });
}

/** The hosts entries bind `name` to (empty when none names it bound). */
const boundHosts = (name: string, allowance: readonly string[]): string[] =>
  allowance.filter((entry) => entry.includes("@") && !isOwnSetting(name) && coversName(parseEntry(entry).names, name)).map((entry) => entry.slice(entry.indexOf("@") + 1));

interface Placeholder {
  where: string;
  name: string;
  /** Where the provider holding it sends it. */
  target: SecretTarget | null;
  /** The provider, as messages name it. */
  provider: string;
}

/**
 * The document with every "${NAME}" in a provider's apiKey or header values replaced by
 * $NAME. Nothing is filled unless every placeholder may be: a placeholder anywhere else, one
 * naming the CLI's own settings, one the allowance does not cover (all of them named in one
 * line, with the flag that allows them) or one whose variable is not set stops the apply
 * before anything is sent. A variable that is not allowed is never read, so the answer does
 * not even say whether it is set; no message holds a value.
 */
export function fillPlaceholders(document: Record<string, unknown>, env: Record<string, string | undefined>, allowance: readonly string[]): Record<string, unknown> {
  refuseMisplaced(document);
  if (!Array.isArray(document["providers"])) return document;
  // Every placeholder is checked, as a whole, before any variable is read.
  const found: Placeholder[] = [];
  mapSecrets(document["providers"], (value, where, provider) => {
    for (const match of value.matchAll(PLACEHOLDER)) found.push({ where, name: match[1]!, target: targetOf(provider.baseUrl), provider: provider.named });
    return value;
  });
  const own = found.find((p) => isOwnSetting(p.name));
  if (own) throw new CommandUsageError(`${own.where} names \${${own.name}}: the CLI's own settings are never sent to a provider (SWITCHBOARD_*, whatever --allow-env says)`);
  const refused = found.filter((p) => !envAllowed(p.name, allowance, p.target));
  // Allowed, but for other hosts than the provider's: the document may have moved it.
  const elsewhere = refused.find((p) => boundHosts(p.name, allowance).length > 0);
  if (elsewhere) {
    const pointsAt = elsewhere.target ? `points at ${elsewhere.target.origin}` : "gives no baseUrl that says where it is sent";
    throw new CommandUsageError(
      `${elsewhere.where} names \${${elsewhere.name}}, which is allowed only for ${boundHosts(elsewhere.name, allowance).join(", ")}, and ${elsewhere.provider} ${pointsAt}: if the key belongs there, allow it for that host too`,
    );
  }
  if (refused.length > 0) {
    const names = [...new Set(refused.map((p) => p.name))];
    const named = refused.map((p) => `${p.where} names \${${p.name}}`).join(", ");
    throw new CommandUsageError(`${named}, which config apply reads only when allowed: add --allow-env ${names.join(",")} (or list ${names.length === 1 ? "it" : "them"} in ${CONFIG_ENV_VARIABLE})`);
  }
  const unset = found.find((p) => !env[p.name]);
  if (unset) throw new CommandUsageError(`${unset.where} names \${${unset.name}}, but $${unset.name} is not set`);
  return { ...document, providers: mapSecrets(document["providers"], (value) => value.replace(PLACEHOLDER, (_, name: string) => env[name]!)) };
}

/** The providers with `fill` applied to each string apiKey and header value, each told where it is and which provider holds it. */
function mapSecrets(providers: unknown[], fill: (value: string, where: string, provider: { named: string; baseUrl: unknown }) => string): unknown[] {
  return providers.map((raw, i) => {
    if (!isRecord(raw)) return raw;
    const named = `providers[${i}]${typeof raw["name"] === "string" ? ` (${shown(raw["name"])})` : ""}`;
    const provider = { named, baseUrl: raw["baseUrl"] };
    const apiKey = raw["apiKey"];
    const headers = raw["headers"];
    return {
      ...raw,
      ...(typeof apiKey === "string" ? { apiKey: fill(apiKey, `${named}.apiKey`, provider) } : {}),
      ...(isRecord(headers)
        ? { headers: Object.fromEntries(Object.entries(headers).map(([header, value]) => [header, typeof value === "string" ? fill(value, `${named}.headers.${shown(header)}`, provider) : value])) }
        : {}),
    };
  });
}

/**
 * A name from the document as it is when plain, quoted otherwise: a newline or an escape
 * sequence in it must not start a line of its own in a CI log (where a line can be a command
 * to the runner).
 */
const shown = (name: string): string => (/^[\w.:@/-]*$/.test(name) ? name : JSON.stringify(name));

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Stops the apply if `text` (a value, or a name in the document) holds a placeholder. */
function refuseIfPlaceholder(text: string, where: string): void {
  const name = FIRST_PLACEHOLDER.exec(text)?.[1];
  if (name !== undefined) throw new CommandUsageError(`${where} holds \${${name}}: placeholders are filled only in a provider's apiKey and header values`);
}

/**
 * A placeholder outside a provider's apiKey and header values would be sent as it is written
 * (a model named "${X}", a baseUrl with "${HOST}" in it): never what its author meant, so it
 * stops the apply instead. A name (a header's included) is never filled either. Walked
 * without recursion: a document may nest deeply.
 */
function refuseMisplaced(document: Record<string, unknown>): void {
  const stack: Array<{ value: unknown; where: string }> = [{ value: document, where: "" }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, where } = next;
    if (typeof value === "string") {
      refuseIfPlaceholder(value, where);
    } else if (Array.isArray(value)) {
      // Pushed last first, so the first misplaced value in the document is the one named.
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], where: `${where}[${i}]` });
    } else if (isRecord(value)) {
      // providers[i].apiKey and the values of providers[i].headers are where placeholders belong.
      const isProvider = /^providers\[\d+\]$/.test(where) && Array.isArray(document["providers"]);
      for (const [key, item] of Object.entries(value).reverse()) {
        const path = where === "" ? shown(key) : `${where}.${shown(key)}`;
        refuseIfPlaceholder(key, path);
        if (isProvider && key === "apiKey") continue;
        if (isProvider && key === "headers" && isRecord(item)) {
          for (const [header, headerValue] of Object.entries(item)) {
            refuseIfPlaceholder(header, `${path}.${shown(header)}`);
            if (typeof headerValue !== "string") stack.push({ value: headerValue, where: `${path}.${shown(header)}` });
          }
          continue;
        }
        stack.push({ value: item, where: path });
      }
    }
  }
}
