/**
 * A configuration document in YAML — a repository's file for the CLI, text pasted into the
 * admin — read as plain data, and an export written as YAML the same way by both. No zod
 * here: the CLI bundles this module and carries no zod.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, visit, type Document, type Node } from "yaml";

/** Expanding more aliases than this is refused (a small file must not become a huge one). */
const MAX_ALIASES = 100;

/** Why the text is not a document: where (when known) and what kind of fault, never the text there (it may hold a secret). */
export interface YamlFault {
  line?: number;
  column?: number;
  kind: string;
}

export type YamlRead = { value: unknown } | { fault: YamlFault };

/**
 * YAML 1.2's core schema without the older explicit tags: strings, numbers, booleans, null,
 * lists and maps only. An unknown or language tag (`!!js/function`, `!!binary`, `!!set`,
 * `!!timestamp`, `!!merge`), a duplicate key or an unresolved alias is a fault, and so is a
 * provider's blank `apiKey:` — YAML reads it as null, which would remove the stored key —
 * and a merge key (`<<: *base`), which YAML 1.2 does not merge: it would reach the server as
 * a field named "<<" beside fields missing, refused with a 400 that says neither.
 */
export function readYamlDocument(text: string): YamlRead {
  const lines = new LineCounter();
  const document = parseDocument(text, { schema: "core", resolveKnownTags: false, uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const at = (offset: number | undefined): Pick<YamlFault, "line" | "column"> => {
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  const fault = document.errors[0] ?? document.warnings[0];
  if (fault) return { fault: { ...at(fault.pos[0]), kind: `not valid YAML (${fault.code.toLowerCase().replaceAll("_", " ")})` } };
  const merge = mergeKey(document);
  if (merge) return { fault: { ...at(merge.range?.[0]), kind: "merge keys are not supported: write the fields out" } };
  const blank = blankApiKey(document.contents);
  if (blank) return { fault: { ...at(blank.range?.[0]), kind: "a blank apiKey reads as null, which removes the stored key: write null to mean that, or leave the field out to keep it" } };
  try {
    return { value: document.toJS({ maxAliasCount: MAX_ALIASES }) };
  } catch (error) {
    const kind = /excessive alias count/i.test((error as Error).message) ? `too many aliases expanded (at most ${MAX_ALIASES})` : "not valid YAML (unresolved alias)";
    return { fault: { kind } };
  }
}

/**
 * An exported document as YAML: what `switchboard config export --yaml` prints and the admin's
 * YAML download saves, written here only so the two stay the same file for the same
 * configuration. The library's defaults: keys in the document's order and YAML 1.2's core
 * schema, so a string that would read as another type (`"null"`, `"1e3"`, `"true"`) is
 * quoted and readYamlDocument gives back the same data.
 */
export function writeYamlDocument(document: unknown): string {
  return stringify(document);
}

/** The first unquoted `<<` key, anywhere (a quoted "<<" is a name like any other). */
function mergeKey(document: Document): Node | undefined {
  let found: Node | undefined;
  visit(document, {
    Pair(_key, pair) {
      if (isScalar(pair.key) && pair.key.value === "<<" && pair.key.type === "PLAIN") {
        found = pair.key;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** The key of a provider's `apiKey:` left blank, if one is. */
function blankApiKey(root: Node | null): Node | undefined {
  if (!isMap(root)) return undefined;
  const providers = root.items.find((pair) => isScalar(pair.key) && pair.key.value === "providers")?.value;
  if (!isSeq(providers)) return undefined;
  for (const provider of providers.items) {
    if (!isMap(provider)) continue;
    for (const pair of provider.items) {
      if (!isScalar(pair.key) || pair.key.value !== "apiKey") continue;
      const value = pair.value;
      if (value === null || (isScalar(value) && value.value === null && (value.source ?? "") === "")) return pair.key;
    }
  }
  return undefined;
}
