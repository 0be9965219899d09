/**
 * Inputs for the fuzz suite: values shaped by a procedure's own zod schema (through its JSON
 * Schema, `z.toJSONSchema`), then mutated the ways hostile clients do: wrong types, huge and
 * empty sizes, odd unicode, NUL, deep nesting, prototype keys, missing and extra fields.
 */
import fc from "fast-check";
import { z } from "zod";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON Schema is untyped JSON
type JsonSchema = Record<string, any>;

/** The JSON Schema of a zod input (best effort: what cannot be represented becomes "anything"). */
export function jsonSchemaOf(schema: unknown): JsonSchema {
  try {
    return z.toJSONSchema(schema as z.ZodType, { io: "input", unrepresentable: "any", cycles: "ref" }) as JsonSchema;
  } catch {
    return {};
  }
}

const oddStrings = fc.constantFrom(
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "🙂".repeat(50),
  "\u202e\u200b\ufeff",
  "'; DROP TABLE \"User\"; --",
  "../../etc/passwd",
  "%00%2e%2e%2f",
  "<script>alert(1)</script>",
  "__proto__",
  "constructor",
  "null",
  "NaN",
  "-1",
  "9".repeat(400),
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-4fff-bfff-ffffffffffff",
  "sb-0000000000000000000000000000000000000000",
  "a@b.c",
  "global",
  "provider:beta",
  "auto",
);

const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 3, arbitrary: oddStrings },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((n) => "x".repeat(n)) },
);

const oddNumbers = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, 5e-324),
);

/** Any JSON value, including nested ones. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  anyString,
  oddNumbers,
  fc.constantFrom(null, true, false, [], {}),
);

/** Values nested `depth` levels deep (arrays or objects), e.g. to probe recursion limits. */
const deeplyNested = fc.tuple(fc.integer({ min: 50, max: 1_000 }), fc.boolean()).map(([depth, asObject]) => {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = asObject ? { a: value } : [value];
  return value;
});

function fromSchema(schema: JsonSchema, root: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (schema.$ref && typeof schema.$ref === "string") {
    const name = schema.$ref.split("/").pop()!;
    const target = root.$defs?.[name] ?? root.definitions?.[name];
    return target ? fromSchema(target, root, depth + 1) : anyJson;
  }
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union) && union.length > 0) return fc.oneof(...union.map((s) => fromSchema(s, root, depth + 1)));
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) return fromSchema(schema.allOf[0], root, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string": {
      const min = schema.minLength ?? 0;
      const max = Math.min(schema.maxLength ?? 60, min + 60);
      if (schema.format === "email") return fc.emailAddress();
      if (schema.format === "uuid") return fc.uuid();
      if (schema.format === "date-time") return fc.date({ noInvalidDate: true, min: new Date(2000, 0, 1), max: new Date(2100, 0, 1) }).map((d) => d.toISOString());
      if (schema.pattern) {
        try {
          return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= Math.max(max, 200));
        } catch {
          /* an unsupported pattern: plain strings */
        }
      }
      return fc.string({ minLength: min, maxLength: Math.max(min, max) });
    }
    case "integer":
      return fc.integer({ min: Math.max(schema.minimum ?? -1_000, -1_000_000), max: Math.min(schema.maximum ?? 1_000, 1_000_000) });
    case "number":
      return fc.double({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000, noNaN: true, noDefaultInfinity: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const item = schema.items && typeof schema.items === "object" ? fromSchema(schema.items, root, depth + 1) : anyJson;
      return fc.array(item, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, (schema.minItems ?? 0) + 4) });
    }
    case "object": {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set<string>(schema.required ?? []);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, sub] of Object.entries(props)) record[key] = fromSchema(sub, root, depth + 1);
      const requiredKeys = Object.keys(props).filter((k) => required.has(k));
      return fc.record(record, { requiredKeys });
    }
    default:
      return anyJson;
  }
}

/** Replaces the value at one random spot of `value` with `replacement`. */
function replaceSomewhere(value: unknown, replacement: unknown, pick: number): unknown {
  const spots: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (node: unknown, depth: number) => {
    if (depth > 8 || node === null || typeof node !== "object") return;
    for (const [key, child] of Object.entries(node)) {
      spots.push({ parent: node as Record<string, unknown>, key: Array.isArray(node) ? Number(key) : key });
      walk(child, depth + 1);
    }
  };
  const copy = structuredClone(value);
  walk(copy, 0);
  if (spots.length === 0) return replacement;
  const spot = spots[pick % spots.length]!;
  (spot.parent as Record<string | number, unknown>)[spot.key] = replacement;
  return copy;
}

/**
 * An input for a procedure: mostly well-shaped (so the server's deeper paths run) with one
 * hostile mutation; sometimes nothing or arbitrary JSON.
 */
export function inputArbitrary(schema: JsonSchema): fc.Arbitrary<unknown> {
  const valid = fromSchema(schema, schema, 0);
  const hostile = fc.oneof(anyJson, anyString, oddNumbers, deeplyNested, fc.constant(undefined));
  const mutated = fc.tuple(valid, hostile, fc.nat()).map(([v, h, pick]) => replaceSomewhere(v, h, pick));
  const withExtraKeys = fc.tuple(valid, fc.dictionary(fc.oneof(oddStrings, fc.string({ maxLength: 8 })), anyJson, { maxKeys: 3 })).map(([v, extra]) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? { ...v, ...extra } : v,
  );
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 5, arbitrary: mutated },
    { weight: 2, arbitrary: withExtraKeys },
    { weight: 1, arbitrary: hostile },
  );
}

/** Raw bodies that are not the JSON a route expects. */
export const rawBodyArbitrary: fc.Arbitrary<{ body: string; contentType: string | undefined }> = fc.record({
  body: fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.constantFrom("", "{", "[", "null", "{\"a\":", "\u0000", "{\"__proto__\":{\"admin\":true}}", "[".repeat(5000), "{\"a\":1}".repeat(1000)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? "null"),
  ),
  contentType: fc.constantFrom(undefined, "application/json", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "multipart/form-data; boundary=x", "application/octet-stream"),
});

export { anyJson, oddStrings };
