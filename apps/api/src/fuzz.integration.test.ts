/**
 * Property-based fuzzing of the whole HTTP surface. Targets come from the server itself:
 * every tRPC procedure of the router (with its zod input schema) and every route Fastify
 * registered, so procedures and routes added later are fuzzed without touching this file.
 * Each case goes over real HTTP to a real server (embedded PGlite, in-process coordination,
 * local OpenAI-protocol upstreams) as anonymous, USER or SUPERADMIN, and must hold:
 * - never a 500 (status, batch item or stream event);
 * - an answer (or, for streams, a first byte) within the deadline;
 * - a refused call (4xx) changes no database row.
 * `npm test` runs a bounded number of cases; `npm run fuzz` runs many more (`FUZZ_RUNS`).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../test/app.ts";
import { anyJson, inputArbitrary, jsonSchemaOf, oddStrings, rawBodyArbitrary } from "../test/fuzz/inputs.ts";
import { startUpstreams, type Upstreams } from "../test/upstreams.ts";
import { routesOf } from "./http/route-catalogue.ts";
import { appRouter } from "./routers/index.ts";

const LONG = process.env.FUZZ_LONG === "1";
/** Cases per property: small in `npm test`, large in `npm run fuzz` (override with FUZZ_RUNS). */
const RUNS = Number(process.env.FUZZ_RUNS ?? (LONG ? 2_000 : 0)) || 0;
const runs = (quick: number) => (RUNS > 0 ? RUNS : quick);
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const REQUEST_DEADLINE_MS = 15_000;
/** Per-property budget for vitest (cases are bounded by numRuns; this only catches a stall). */
const PROPERTY_TIMEOUT_MS = LONG || RUNS > 0 ? 6 * 60 * 60_000 : 300_000;
/** Streams are read this long (or until their first bytes), then closed by the client. */
const STREAM_READ_MS = 1_500;
/** Tables that change by design on any request (metrics flushes, the request log and its pruned spend). */
const VOLATILE_TABLES = new Set(["MetricBucket", "RequestLog", "PrunedSpend", "_prisma_migrations"]);

type Role = "anon" | "user" | "root";
interface Procedure {
  path: string;
  type: "query" | "mutation" | "subscription";
  schema: Record<string, unknown>;
}

function listProcedures(record: Record<string, unknown>, prefix = ""): Procedure[] {
  const out: Procedure[] = [];
  for (const [key, value] of Object.entries(record)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const def = (value as { _def?: { procedure?: boolean; type?: Procedure["type"]; inputs?: unknown[]; record?: Record<string, unknown> } })._def;
    if (def?.procedure) out.push({ path, type: def.type!, schema: def.inputs?.[0] ? jsonSchemaOf(def.inputs[0]) : {} });
    else out.push(...listProcedures(def?.record ?? (value as Record<string, unknown>), path));
  }
  return out;
}

let t: TestApp;
let up: Upstreams<"beta" | "deepseek">;
const tokens: Record<Role, string | undefined> = { anon: undefined, user: undefined, root: undefined };
let userCredentials: { email: string; password: string };
const stats = { cases: 0, serverErrors: 0, refused: 0, byStatus: new Map<number, number>() };
const failures: string[] = [];

beforeAll(async () => {
  up = await startUpstreams(["beta", "deepseek"]);
  t = await startTestApp({
    mode: "embedded",
    env: {
      ...up.env,
      // Limits would turn most cases into 429s before they reach deeper code.
      LOGIN_IP_RATE_LIMIT_PER_MIN: "1000000",
      IP_RATE_LIMIT_PER_MIN: "1000000",
      CHAT_RATE_LIMIT_PER_MIN: "1000000",
      CONSENSUS_RATE_LIMIT_PER_MIN: "1000000",
    },
  });
  tokens.root = await t.login();
  const user = await t.userWithRole("USER");
  tokens.user = user.token;
  userCredentials = { email: user.email, password: "a-long-enough-password" };
});

afterAll(async () => {
  const statuses = [...stats.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(" ");
  console.log(`fuzz: ${stats.cases} cases, ${stats.serverErrors} answered 500, ${stats.refused} refused (4xx); statuses ${statuses}`);
  await t?.close();
  await up?.close();
});

const headersFor = (role: Role): Record<string, string> => (tokens[role] ? { authorization: `Bearer ${tokens[role]}` } : {});

interface Exchange {
  status: number;
  text: string;
}

/** Sends one request; streams are read briefly. Rejects only on a missed deadline. */
async function send(url: string, init: RequestInit & { stream?: boolean }): Promise<Exchange> {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(new Error("deadline")), REQUEST_DEADLINE_MS);
  try {
    const res = await fetch(url, { ...init, signal: controller.signal });
    const isStream = init.stream || (res.headers.get("content-type") ?? "").includes("text/event-stream");
    if (!isStream) return { status: res.status, text: await res.text() };
    clearTimeout(deadline);
    // A stream may stay open for its whole life: read what arrives for a moment, then leave.
    const reader = res.body!.getReader();
    let text = "";
    const stop = setTimeout(() => controller.abort(new Error("done reading")), STREAM_READ_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        if (text.length > 64_000) break;
      }
    } catch {
      // the client closing its own read is not a failure
    } finally {
      clearTimeout(stop);
      controller.abort(new Error("done reading"));
    }
    return { status: res.status, text };
  } catch (error) {
    if (controller.signal.aborted && (controller.signal.reason as Error)?.message === "deadline") {
      throw new Error(`no answer within ${REQUEST_DEADLINE_MS} ms`);
    }
    // Node refuses some hostile requests itself (e.g. header overflow) by closing the socket.
    return { status: 0, text: String((error as Error).message) };
  } finally {
    clearTimeout(deadline);
  }
}

/** A fingerprint of every table's content (embedded PGlite: cheap for a test database). */
async function snapshot(): Promise<Record<string, string>> {
  const prisma = t.app.deps.db.prisma;
  const tables = await prisma.$queryRawUnsafe<Array<{ table_name: string }>>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const out: Record<string, string> = {};
  for (const { table_name: name } of tables) {
    if (VOLATILE_TABLES.has(name)) continue;
    const [row] = await prisma.$queryRawUnsafe<Array<{ h: string | null }>>(
      `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM "${name}" t`,
    );
    out[name] = row?.h ?? "";
  }
  const emergency = t.app.deps.emergency.status();
  out["emergency"] = JSON.stringify(emergency);
  return out;
}

function hasServerError(exchange: Exchange): boolean {
  return exchange.status === 500 || /INTERNAL_SERVER_ERROR|"httpStatus":500/.test(exchange.text);
}

/** Keeps the fleet usable between cases: lifts a freeze, signs back in if a token died. */
async function restore(): Promise<void> {
  if (t.app.deps.emergency.status().active) {
    await send(`${t.url}/trpc/emergency.unfreeze`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headersFor("root") },
      body: JSON.stringify({ reason: "fuzz: reset" }),
    });
  }
  for (const role of ["root", "user"] as const) {
    const me = await send(`${t.url}/trpc/auth.me`, { headers: headersFor(role) });
    if (me.status !== 200) {
      const creds = role === "root" ? TEST_SUPERADMIN : userCredentials;
      tokens[role] = await t.login(creds.email, creds.password).catch(() => tokens[role]);
    }
  }
}

/** Runs one case: state before, the exchange, the checks, state after. */
async function runCase(label: string, request: () => Promise<Exchange>, opts: { checkState: boolean }): Promise<boolean> {
  const before = opts.checkState ? await snapshot() : null;
  const exchange = await request();
  stats.cases += 1;
  stats.byStatus.set(exchange.status, (stats.byStatus.get(exchange.status) ?? 0) + 1);
  if (hasServerError(exchange)) {
    stats.serverErrors += 1;
    failures.push(`${label} → ${exchange.status} ${exchange.text.slice(0, 300)}`);
    return false;
  }
  const refused = exchange.status >= 400 && exchange.status < 500;
  if (refused) stats.refused += 1;
  if (before && refused) {
    const after = await snapshot();
    const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
    if (changed.length > 0) {
      failures.push(`${label} → ${exchange.status} but changed ${changed.join(", ")}: ${exchange.text.slice(0, 200)}`);
      return false;
    }
  }
  if (!refused) await restore();
  return true;
}

/** encodeURIComponent throws on lone surrogates; send them as U+FFFD, as a browser would. */
function encodePathPart(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));
}

function encodeInput(input: unknown): string {
  return input === undefined ? "" : `input=${encodeURIComponent(JSON.stringify(input) ?? "null")}`;
}

const procedures = listProcedures(appRouter._def.record as Record<string, unknown>);
const roleArb = fc.constantFrom<Role>("anon", "user", "root");
const procedureCase = fc.oneof(
  ...procedures.map((p) => fc.record({ proc: fc.constant(p), input: inputArbitrary(p.schema), role: roleArb, viaPost: fc.boolean() })),
);

describe("fuzz", () => {
  it("derives its targets from the server: every procedure and every REST route", () => {
    expect(procedures.length).toBeGreaterThan(20);
    expect(procedures.map((p) => p.path)).toEqual(expect.arrayContaining(["auth.login", "chat.send", "users.delete"]));
    expect(routesOf(t.server).some((r) => r.url === "/v1/chat/completions")).toBe(true);
  });

  it("a stream's late error keeps its code (found by this suite: chat.stream of an unknown conversation was a 500)", async () => {
    const input = encodeURIComponent(JSON.stringify({ message: "hi", conversationId: "881131c3-f77f-494e-bfff-fffc96bc6216" }));
    const res = await send(`${t.url}/trpc/chat.stream?input=${input}`, { headers: { ...headersFor("user"), accept: "text/event-stream" }, stream: true });
    expect(res.text).toMatch(/"code":"NOT_FOUND"/);
    expect(hasServerError(res)).toBe(false);
  });

  it("every procedure, with mutated inputs, as anonymous, USER and SUPERADMIN", async () => {
    failures.length = 0;
    await fc.assert(
      fc.asyncProperty(procedureCase, async ({ proc, input, role, viaPost }) => {
        const headers = headersFor(role);
        const label = `${role} ${proc.type} ${proc.path} ${JSON.stringify(input)?.slice(0, 200)}`;
        if (proc.type === "subscription") {
          const query = encodeInput(input);
          return runCase(label, () => send(`${t.url}/trpc/${proc.path}${query ? `?${query}` : ""}`, { headers: { ...headers, accept: "text/event-stream" }, stream: true }), {
            checkState: false,
          });
        }
        const body = input === undefined ? undefined : JSON.stringify(input);
        if (proc.type === "query" && !viaPost) {
          const query = encodeInput(input);
          return runCase(label, () => send(`${t.url}/trpc/${proc.path}${query ? `?${query}` : ""}`, { headers }), { checkState: true });
        }
        return runCase(label, () => send(`${t.url}/trpc/${proc.path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, ...(body !== undefined ? { body } : {}) }), {
          checkState: true,
        });
      }),
      { numRuns: runs(200), seed, endOnFailure: !LONG },
    );
    expect(failures).toEqual([]);
  }, PROPERTY_TIMEOUT_MS);

  it("batches of procedures (?batch=1), including auth.* mixed with others", async () => {
    failures.length = 0;
    const batchable = procedures.filter((p) => p.type !== "subscription");
    const batchCase = fc.record({
      calls: fc.array(fc.constantFrom(...batchable).chain((p) => fc.tuple(fc.constant(p), inputArbitrary(p.schema))), { minLength: 2, maxLength: 5 }),
      role: roleArb,
    });
    await fc.assert(
      fc.asyncProperty(batchCase, async ({ calls, role }) => {
        const paths = calls.map(([p]) => p.path).join(",");
        const inputs = Object.fromEntries(calls.map(([, input], i) => [i, input]));
        const label = `${role} batch ${paths} ${JSON.stringify(inputs).slice(0, 200)}`;
        return runCase(
          label,
          () => send(`${t.url}/trpc/${paths}?batch=1`, { method: "POST", headers: { ...headersFor(role), "content-type": "application/json" }, body: JSON.stringify(inputs) }),
          { checkState: true },
        );
      }),
      { numRuns: runs(40), seed, endOnFailure: !LONG },
    );
    expect(failures).toEqual([]);
  }, PROPERTY_TIMEOUT_MS);

  it("every REST route Fastify knows, with odd parameters, queries and bodies", async () => {
    failures.length = 0;
    const routes = routesOf(t.server).filter((r) => r.method !== "HEAD" && !r.url.startsWith("/trpc"));
    expect(routes.length).toBeGreaterThan(5);
    const bodyHint = fc.record(
      {
        model: fc.oneof(oddStrings, fc.constantFrom("auto", "beta", "gpt-4o-mini")),
        messages: fc.oneof(fc.array(fc.record({ role: fc.constantFrom("user", "system", "assistant", "tool", "x"), content: fc.oneof(oddStrings, anyJson) }), { maxLength: 3 }), anyJson),
        message: fc.oneof(oddStrings, anyJson),
        prompt: fc.oneof(oddStrings, anyJson),
        input: fc.oneof(oddStrings, anyJson),
        reason: fc.oneof(oddStrings, anyJson),
        stream: fc.oneof(fc.boolean(), anyJson),
        strategy: fc.constantFrom("majority", "synthesize", "x"),
      },
      { requiredKeys: [] },
    );
    const routeCase = fc.record({
      route: fc.constantFrom(...routes),
      param: fc.oneof(oddStrings, fc.uuid(), fc.string({ maxLength: 20 })),
      query: fc.dictionary(fc.oneof(fc.constantFrom("limit", "cursor", "model", "input", "x"), fc.string({ maxLength: 6 })), fc.oneof(oddStrings, fc.string({ maxLength: 20 })), { maxKeys: 3 }),
      body: fc.oneof(bodyHint, anyJson, fc.constant(undefined)),
      raw: fc.option(rawBodyArbitrary, { freq: 4 }),
      role: roleArb,
    });
    await fc.assert(
      fc.asyncProperty(routeCase, async ({ route, param, query, body, raw, role }) => {
        const path = route.url
          .replace(/:[A-Za-z0-9_]+/g, () => encodePathPart(param))
          .replace(/\*/g, () => encodePathPart(param));
        const qs = new URLSearchParams(query).toString();
        const url = `${t.url}${path}${qs ? `?${qs}` : ""}`;
        const hasBody = !["GET", "HEAD", "OPTIONS"].includes(route.method);
        const headers: Record<string, string> = { ...headersFor(role) };
        let payload: string | undefined;
        if (hasBody && raw) {
          payload = raw.body;
          if (raw.contentType) headers["content-type"] = raw.contentType;
        } else if (hasBody && body !== undefined) {
          payload = JSON.stringify(body);
          headers["content-type"] = "application/json";
        }
        const label = `${role} ${route.method} ${path}?${qs} ${payload?.slice(0, 200) ?? ""}`;
        const isUpgrade = /\/ws\b/.test(route.url);
        return runCase(label, () => send(url, { method: route.method, headers, ...(payload !== undefined ? { body: payload } : {}), stream: isUpgrade }), {
          checkState: !isUpgrade,
        });
      }),
      { numRuns: runs(120), seed, endOnFailure: !LONG },
    );
    expect(failures).toEqual([]);
  }, PROPERTY_TIMEOUT_MS);

  it("raw bodies and content types that are not JSON, on procedures", async () => {
    failures.length = 0;
    const mutations = procedures.filter((p) => p.type !== "subscription");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...mutations), rawBodyArbitrary, roleArb, async (proc, raw, role) => {
        const headers: Record<string, string> = { ...headersFor(role), ...(raw.contentType ? { "content-type": raw.contentType } : {}) };
        return runCase(`${role} raw ${proc.path} ${raw.contentType} ${raw.body.slice(0, 100)}`, () => send(`${t.url}/trpc/${proc.path}`, { method: "POST", headers, body: raw.body }), {
          checkState: true,
        });
      }),
      { numRuns: runs(50), seed, endOnFailure: !LONG },
    );
    expect(failures).toEqual([]);
  }, PROPERTY_TIMEOUT_MS);
});
