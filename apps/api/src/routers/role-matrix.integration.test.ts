/**
 * Every procedure of the router must be listed here with its documented role (the contract in the README),
 * and must refuse every caller below that role. The list of procedures comes from the router
 * itself, so a new procedure cannot ship without a role decision and a passing guard.
 */
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES, type TRole } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { createContextInner, type AuthedUser } from "../trpc/context.ts";
import { GUARD_MESSAGES } from "../trpc/errors.ts";
import { createCallerFactory } from "../trpc/init.ts";
import { appRouter } from "./index.ts";

type Documented = TRole | "PUBLIC";

const DOCUMENTED_ROLES: Record<string, Documented> = {
  "auth.login": "PUBLIC",
  "auth.refresh": "PUBLIC",
  "auth.logout": "PUBLIC",
  "auth.me": "USER",
  "auth.methods": "PUBLIC",
  "users.list": "SUPERADMIN",
  "users.create": "SUPERADMIN",
  "users.update": "SUPERADMIN",
  "users.delete": "SUPERADMIN",
  "health.check": "PUBLIC",
  "chat.send": "USER",
  "chat.stream": "USER",
  "chat.clarify": "USER",
  "chat.providers": "USER",
  "chat.conversations.list": "USER",
  "chat.conversations.get": "USER",
  "chat.conversations.delete": "USER",
  "chat.conversations.import": "USER",
  "consensus.query": "USER",
  "consensus.stream": "USER",
  "consensus.models": "USER",
  "consensus.history": "USER",
  "consensus.get": "USER",
  "emergency.status": "PUBLIC",
  "emergency.watch": "PUBLIC",
  "emergency.freeze": "SUPERADMIN",
  "emergency.unfreeze": "SUPERADMIN",
  "emergency.history": "ADMIN",
  "metrics.summary": "ADMIN",
  "metrics.timeseries": "ADMIN",
  "metrics.live": "ADMIN",
  "providers.list": "ADMIN",
  "providers.get": "ADMIN",
  "providers.create": "SUPERADMIN",
  "providers.update": "SUPERADMIN",
  "providers.delete": "SUPERADMIN",
  "providers.test": "SUPERADMIN",
  "models.list": "USER",
  "models.upsert": "SUPERADMIN",
  "models.delete": "SUPERADMIN",
  "keys.create": "USER",
  "keys.list": "USER",
  "keys.get": "USER",
  "keys.update": "USER",
  "keys.revoke": "USER",
  "logs.list": "USER",
  "logs.get": "USER",
  "usage.summary": "USER",
  "tagBudgets.list": "ADMIN",
  "tagBudgets.set": "SUPERADMIN",
  "tagBudgets.remove": "SUPERADMIN",
  "config.export": "ADMIN",
  "config.history": "ADMIN",
  "cache.purge": "USER",
  "cache.purges": "ADMIN",
  "config.import": "SUPERADMIN",
};

type ProcedureLike = { _def: { procedure: true; meta?: { requiredRole?: Documented } } };

/** Walks the router's own record, so every procedure that exists is checked. */
function listProcedures(record: Record<string, unknown>, prefix = ""): Record<string, ProcedureLike> {
  const out: Record<string, ProcedureLike> = {};
  for (const [key, value] of Object.entries(record)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const def = (value as { _def?: { procedure?: boolean; record?: Record<string, unknown> } })._def;
    if (def?.procedure) out[path] = value as ProcedureLike;
    else Object.assign(out, listProcedures(def?.record ?? (value as Record<string, unknown>), path));
  }
  return out;
}

const procedures = listProcedures(appRouter._def.record as Record<string, unknown>);
const paths = Object.keys(procedures).sort();
const createCaller = createCallerFactory(appRouter);

let t: TestApp;
const users = new Map<TRole, AuthedUser>();

beforeAll(async () => {
  t = await startTestApp({ mode: "embedded" });
  for (const role of ROLES) {
    const created = await t.userWithRole(role);
    users.set(role, { id: created.id, email: created.email, role, sessionId: "matrix" });
  }
});
afterAll(async () => t?.close());

/** Calls a procedure by dotted path with input the guard sees before validation. */
async function call(path: string, user: AuthedUser | null): Promise<unknown> {
  const caller = createCaller(createContextInner({ deps: t.app.deps, user }));
  const fn = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller);
  const result = await (fn as (input: unknown) => Promise<unknown>)({ definitely: "not valid input" });
  // Subscriptions resolve to an async iterable; pull once so their guard runs.
  if (result && typeof result === "object" && Symbol.asyncIterator in result) {
    const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return?.();
  }
  return result;
}

/** "GUARD_401"/"GUARD_403" when a role guard refused; otherwise whatever happened next. */
async function outcomeOf(path: string, user: AuthedUser | null): Promise<string> {
  try {
    await call(path, user);
    return "OK";
  } catch (error) {
    if (!(error instanceof TRPCError)) return "THREW_NON_TRPC_ERROR";
    if (error.code === "UNAUTHORIZED" && error.message === GUARD_MESSAGES.unauthenticated) return "GUARD_401";
    if (error.code === "FORBIDDEN" && error.message.startsWith(GUARD_MESSAGES.forbiddenPrefix)) return "GUARD_403";
    return error.code;
  }
}

describe("role matrix", () => {
  it("every procedure of the router is documented, and the meta agrees", () => {
    expect(paths.filter((p) => !(p in DOCUMENTED_ROLES))).toEqual([]);
    for (const path of paths) {
      expect(procedures[path]!._def.meta?.requiredRole ?? "PUBLIC", path).toBe(DOCUMENTED_ROLES[path]);
    }
  });

  it.each(paths)("%s refuses callers below its role and admits its role", async (path) => {
    const required = DOCUMENTED_ROLES[path]!;
    const anonymous = await outcomeOf(path, null);
    if (required === "PUBLIC") {
      expect(["GUARD_401", "GUARD_403", "THREW_NON_TRPC_ERROR"]).not.toContain(anonymous);
      return;
    }
    expect(anonymous).toBe("GUARD_401");
    const rank = ROLES.indexOf(required);
    for (const role of ROLES) {
      const outcome = await outcomeOf(path, users.get(role)!);
      if (ROLES.indexOf(role) < rank) expect(outcome, `${role} on ${path}`).toBe("GUARD_403");
      else expect(["GUARD_401", "GUARD_403", "THREW_NON_TRPC_ERROR"], `${role} on ${path}`).not.toContain(outcome);
    }
  });
});
