/**
 * Input hygiene, by one pass over every request instead of a rule on each schema field that a
 * new schema could forget:
 * - NUL (U+0000) and unpaired surrogates (half of a UTF-16 pair, e.g. `"\ud800"` in JSON):
 *   PostgreSQL cannot store either (text must be valid UTF-8; jsonb refuses both escapes), so
 *   such a string that slipped into a stored field would fail the write after the work (and
 *   the upstream call) was done, and one such value in a batched write (the request log)
 *   would lose every other row of the batch;
 * - nesting deeper than MAX_INPUT_DEPTH: JSON parses iteratively, but much of what runs later
 *   is recursive (JSON.stringify forwarding an unknown field upstream overflows its stack at a
 *   few thousand levels), so a 10 KB body of brackets would fail deep inside a provider call,
 *   counted against the provider's circuit breaker for every other caller.
 * Text from elsewhere (model answers) is made storable instead (`storableText`).
 */
export const NUL = "\u0000";

/** Half of a surrogate pair with no other half (matched per UTF-16 code unit: no `u` flag). */
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNPAIRED_SURROGATES = new RegExp(UNPAIRED_SURROGATE.source, "g");

/** Levels of arrays and objects an input may have (serde_json's default recursion limit). */
export const MAX_INPUT_DEPTH = 128;

/** What a request's input may not contain, and where (the path to the offending value). */
export interface InputFlaw {
  kind: "nul" | "unpaired_surrogate" | "too_deep";
  path: Array<string | number>;
  message: string;
}

/** One value still to visit, linked to its parent so a path is built only for the culprit. */
interface Visit {
  node: unknown;
  key: string | number | undefined;
  parent: Visit | undefined;
  depth: number;
}

function pathOf(visit: Visit, last?: string): Array<string | number> {
  const path: Array<string | number> = last === undefined ? [] : [last];
  for (let v: Visit | undefined = visit; v?.parent; v = v.parent) path.unshift(v.key!);
  return path;
}

function textFlaw(text: string, path: () => Array<string | number>): InputFlaw | null {
  if (text.includes(NUL)) {
    const at = path();
    return { kind: "nul", path: at, message: `${fieldName(at)} must not contain the NUL character (\\u0000)` };
  }
  if (UNPAIRED_SURROGATE.test(text)) {
    const at = path();
    return { kind: "unpaired_surrogate", path: at, message: `${fieldName(at)} is not valid Unicode text (it holds half of a surrogate pair, e.g. \\ud800)` };
  }
  return null;
}

/**
 * The first flaw of `value`: a string (a value or an object key) that cannot be stored, or a
 * value nested deeper than `maxDepth`. Every value is visited (the body limit bounds how many
 * there are) in linear time: iterative, so nesting cannot overflow the stack, and no path is
 * copied per value, so nesting cannot make the walk quadratic either.
 */
function findFlaw(value: unknown, maxDepth: number): InputFlaw | null {
  const stack: Visit[] = [{ node: value, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const { node, depth } = visit;
    if (typeof node === "string") {
      const flaw = textFlaw(node, () => pathOf(visit));
      if (flaw) return flaw;
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (depth >= maxDepth) {
      // The whole path would be as long as the nesting: name where it starts.
      const path = pathOf(visit).slice(0, 2);
      return { kind: "too_deep", path, message: `${fieldName(path)} is nested more than ${maxDepth} levels deep` };
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ node: node[i], key: i, parent: visit, depth: depth + 1 });
    } else {
      for (const [key, child] of Object.entries(node)) {
        const flaw = textFlaw(key, () => pathOf(visit, key));
        if (flaw) return flaw;
        stack.push({ node: child, key, parent: visit, depth: depth + 1 });
      }
    }
  }
  return null;
}

/** What a request's input (body, query, parameters, a procedure's input, a frame) must be refused for. */
export function findInputFlaw(value: unknown): InputFlaw | null {
  return findFlaw(value, MAX_INPUT_DEPTH);
}

/** An escape that decodes to NUL or to half of a surrogate pair (a whole pair matches too). */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89abcdefABCDEF])/;

/**
 * False when the JSON text `findInputFlaw` would find nothing in, once parsed: read in one
 * pass over the text instead of a walk over every parsed value (which allocates per value:
 * ~1.5 s for a 19 MB body of tiny objects, against tens of milliseconds here). In JSON text
 * NUL and half pairs can only come from `\u` escapes (a raw control character is a parse
 * error, and UTF-8 decoding yields no half pairs), and nesting is the brackets outside
 * strings. True means "walk it": an escaped backslash before `u0000`, or an emoji written as
 * an escaped pair, reads as a suspect and the walk decides. For text that parsed.
 */
export function jsonTextMayHoldFlaw(text: string, maxDepth = MAX_INPUT_DEPTH): boolean {
  if (SUSPECT_ESCAPE.test(text)) return true;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: jump to the quote that closes it (one after an even run of backslashes).
      for (;;) {
        const quote = text.indexOf('"', i + 1);
        if (quote < 0) return true;
        let backslashes = 0;
        while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
        i = quote;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      // The value this bracket opens sits at depth `depth` (the root at 0), as findInputFlaw counts.
      if (depth >= maxDepth) return true;
      depth++;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** A human name for a path: `messages.0.content`, or `input` for the root. */
export function fieldName(path: ReadonlyArray<string | number>): string {
  return path.length === 0
    ? "input"
    : path.map((p) => String(p).replaceAll(NUL, "\\u0000").replace(UNPAIRED_SURROGATES, "\ufffd")).join(".");
}

/** Text from elsewhere (model replies) made storable: NUL removed, unpaired surrogates as U+FFFD, everything else kept. */
export function storableText(text: string): string {
  const withoutNul = text.includes(NUL) ? text.replaceAll(NUL, "") : text;
  return UNPAIRED_SURROGATE.test(withoutNul) ? withoutNul.replace(UNPAIRED_SURROGATES, "\ufffd") : withoutNul;
}

/**
 * `storableText` over every string of a plain value (objects, arrays), for records assembled
 * from upstream answers before they are written. Returns the value itself when clean.
 */
export function storableDeep<T>(value: T): T {
  if (findFlaw(value, Infinity) === null) return value;
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === "string" ? storableText(v) : v)) as T;
}

/** A `\u0000` or lone-surrogate escape (JSON.stringify escapes exactly these), after an even run of backslashes. */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2})/g;

/**
 * JSON text from JSON.stringify made acceptable to PostgreSQL's jsonb, which refuses the
 * `\u0000` escape and lone surrogates (JSON.stringify writes those, and only those, as
 * `\udXXX` escapes): NUL removed, half pairs as U+FFFD. For values written as one document,
 * where a single bad string would fail the whole write. Returns the text itself when clean.
 */
export function storableJson(json: string): string {
  if (!json.includes("\\u0000") && !/\\ud[89a-f]/.test(json)) return json;
  return json.replace(UNSTORABLE_ESCAPE, (_match, backslashes: string, code: string) => backslashes + (code === "0000" ? "" : "\\ufffd"));
}
