/**
 * Text hygiene. PostgreSQL cannot store the NUL character (U+0000) in text, so a NUL that
 * slipped into a stored field would fail the write after the work (and the upstream call)
 * was done. Inputs are refused up front, by one pass over every request, instead of by a
 * rule on each schema field that a new schema could forget.
 */
export const NUL = "\u0000";

/** Values visited at most; hostile inputs are bounded by the body limit long before this. */
const MAX_NODES = 200_000;

/**
 * The path of the first string (a value or an object key) containing NUL, or null when there
 * is none. Iterative, so deeply nested hostile input cannot overflow the stack.
 */
export function findNul(value: unknown): Array<string | number> | null {
  const stack: Array<[unknown, Array<string | number>]> = [[value, []]];
  let visited = 0;
  while (stack.length > 0 && visited++ < MAX_NODES) {
    const [node, path] = stack.pop()!;
    if (typeof node === "string") {
      if (node.includes(NUL)) return path;
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], [...path, i]]);
    } else if (node !== null && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) {
        if (key.includes(NUL)) return [...path, key];
        stack.push([child, [...path, key]]);
      }
    }
  }
  return null;
}

/** A human name for a path: `messages.0.content`, or `input` for the root. */
export function fieldName(path: ReadonlyArray<string | number>): string {
  return path.length === 0 ? "input" : path.map((p) => String(p).replaceAll(NUL, "\\u0000")).join(".");
}

export const nulMessage = (path: ReadonlyArray<string | number>) =>
  `${fieldName(path)} must not contain the NUL character (\\u0000)`;

/** Text from elsewhere (model replies) made storable: NUL removed, everything else kept. */
export function withoutNul(text: string): string {
  return text.includes(NUL) ? text.replaceAll(NUL, "") : text;
}

/**
 * `withoutNul` over every string of a plain value (objects, arrays), for records assembled
 * from upstream answers before they are written. Returns the value itself when clean.
 */
export function withoutNulDeep<T>(value: T): T {
  if (findNul(value) === null) return value;
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === "string" ? withoutNul(v) : v)) as T;
}
