/**
 * The emergency stop through its public surface, as curl and the typed client see it: the
 * guard and its allowlist, bad input, audit rows, REST aliases and scopes. Runs in cluster
 * mode (real PostgreSQL + Redis) and on the embedded default (PGlite + in-process).
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../../test/http.ts";

async function rest(t: TestApp, method: "GET" | "POST", path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}/api/admin/emergency/${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function auditRows(t: TestApp) {
  return t.app.deps.db.prisma.emergencyEvent.findMany({ orderBy: { createdAt: "asc" } });
}

describe.each(["cluster", "embedded"] as const)("emergency stop (%s)", (mode) => {
  let t: TestApp;
  let root: string;
  let admin: string;
  let user: string;

  beforeAll(async () => {
    t = await startTestApp({ mode });
    root = await t.login();
    admin = (await t.userWithRole("ADMIN")).token;
    user = (await t.userWithRole("USER")).token;
  });
  afterAll(async () => t?.close());

  it("starts unfrozen; status is public", async () => {
    const res = await trpcQuery(t.url, "emergency.status");
    expect(res.status).toBe(200);
    expect(res.body.result.data).toEqual({
      active: false, scope: "global", reason: null, activatedAt: null, activatedBy: null, expiresAt: null, version: 0,
    });
  });

  it("refuses bad callers and bad input without changing anything", async () => {
    const valid = { reason: "runaway costs" };
    expect((await trpcMutation(t.url, "emergency.freeze", valid)).status).toBe(401);
    expect((await trpcMutation(t.url, "emergency.freeze", valid, bearer(user))).status).toBe(403);
    expect((await trpcMutation(t.url, "emergency.freeze", valid, bearer(admin))).status).toBe(403);
    expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(admin))).status).toBe(403);

    for (const input of [{}, { reason: "" }, { reason: "   " }, { reason: "ab" }, { reason: "x".repeat(501) }]) {
      const res = await trpcMutation(t.url, "emergency.freeze", input, bearer(root));
      expect(res.status, JSON.stringify(input)).toBe(400);
      expect(res.body.error.data.zodError.fieldErrors).toHaveProperty("reason");
    }
    for (const scope of ["everything", "provider:Not A Name!", "provider:"]) {
      const res = await trpcMutation(t.url, "emergency.freeze", { reason: "valid reason", scope }, bearer(root));
      expect(res.status, scope).toBe(400);
      expect(res.body.error.data.zodError.fieldErrors.scope[0]).toMatch(/Unknown scope/);
    }
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "valid", expiresInSec: -5 }, bearer(root))).status).toBe(400);

    expect(t.app.deps.emergency.status().active).toBe(false);
    expect(await auditRows(t)).toHaveLength(0);
  });

  it("a forged or revoked SuperAdmin token never changes state", async () => {
    const forged = await new SignJWT({ email: "root@switchboard.test", role: "SUPERADMIN", sid: "x", iat_ms: Date.now() })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("someone")
      .setIssuer("switchboard")
      .setAudience("switchboard")
      .setIssuedAt()
      .setNotBefore("0s")
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode("not-the-server-secret-but-long-enough-0123456789"));
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "forged" }, bearer(forged))).status).toBe(401);

    const revoked = await t.login();
    expect((await trpcMutation(t.url, "auth.logout", {}, bearer(revoked))).status).toBe(200);
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "revoked" }, bearer(revoked))).status).toBe(401);
    expect((await rest(t, "POST", "freeze", { reason: "revoked" }, bearer(revoked))).status).toBe(401);

    expect(t.app.deps.emergency.status().active).toBe(false);
    expect(await auditRows(t)).toHaveLength(0);
  });

  it("unfreeze while not frozen is an idempotent success with no audit row", async () => {
    const res = await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root));
    expect(res.status).toBe(200);
    expect(res.body.result.data).toMatchObject({ active: false, changed: false, propagation: "confirmed" });
    expect(await auditRows(t)).toHaveLength(0);
  });

  it("freeze answers with the state and its acknowledgements, and the guard refuses with 503", async () => {
    const res = await trpcMutation(t.url, "emergency.freeze", { reason: "  model is leaking data  " }, bearer(root));
    expect(res.status).toBe(200);
    expect(res.body.result.data).toMatchObject({
      active: true,
      scope: "global",
      reason: "model is leaking data",
      activatedBy: "root@switchboard.test",
      expiresAt: null,
      changed: true,
      acknowledgedBy: 1,
      liveInstances: 1,
      pendingInstances: [],
      propagation: "confirmed",
    });

    const refused = await trpcQuery(t.url, "users.list", undefined, bearer(root));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect(refused.body.error.data).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      appCode: "EMERGENCY_STOP",
      reason: "model is leaking data",
      activatedAt: res.body.result.data.activatedAt,
      activatedBy: "root@switchboard.test",
    });
    // Even an anonymous caller learns why, before any role check.
    expect((await trpcQuery(t.url, "users.list")).status).toBe(503);
    // Not on the allowlist: refreezing waits for the unfreeze; the audit trail is ADMIN-only.
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "again" }, bearer(root))).status).toBe(503);
    expect((await trpcQuery(t.url, "emergency.history", undefined, bearer(root))).status).toBe(200);
    expect((await trpcQuery(t.url, "emergency.history", undefined, bearer(user))).status).toBe(503);
    expect((await rest(t, "POST", "freeze", { reason: "again" }, bearer(root))).status).toBe(503);
    expect((await fetch(`${t.url}/v1/models`)).status).toBe(503);
  });

  it("keeps the allowlist answering while frozen", async () => {
    expect((await trpcQuery(t.url, "emergency.status")).body.result.data.active).toBe(true);
    expect((await trpcQuery(t.url, "health.check")).status).toBe(200);
    expect((await trpcQuery(t.url, "auth.me", undefined, bearer(root))).status).toBe(200);
    // The sign-in page asks which sign-in methods there are before anyone can sign in.
    expect((await trpcQuery(t.url, "auth.methods")).status).toBe(200);
    expect((await trpcMutation(t.url, "auth.login", { email: "root@switchboard.test", password: "correct-horse-battery-staple" })).status).toBe(200);
    for (const path of ["/health", "/metrics", "/ready"]) expect((await fetch(`${t.url}${path}`)).status, path).toBe(200);
    const status = await rest(t, "GET", "status");
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ active: true, reason: "model is leaking data" });
  });

  it("unfreeze lifts it once; a repeat is a no-op; both changes are audited with actor and acks", async () => {
    const first = await trpcMutation(t.url, "emergency.unfreeze", { reason: "rotated the key" }, bearer(root));
    expect(first.status).toBe(200);
    expect(first.body.result.data).toMatchObject({ active: false, changed: true, acknowledgedBy: 1, propagation: "confirmed" });
    expect((await trpcQuery(t.url, "users.list", undefined, bearer(root))).status).toBe(200);

    const again = await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root));
    expect(again.body.result.data).toMatchObject({ active: false, changed: false });

    const rows = await auditRows(t);
    expect(rows.map((r) => r.action)).toEqual(["freeze", "unfreeze"]);
    expect(rows[0]).toMatchObject({ scope: "global", reason: "model is leaking data", actorEmail: "root@switchboard.test", instanceId: t.app.deps.instanceId, acks: 1 });
    expect(rows[1]).toMatchObject({ scope: "global", reason: "rotated the key", actorEmail: "root@switchboard.test", acks: 1 });

    const history = await trpcQuery(t.url, "emergency.history", { limit: 1 }, bearer(admin));
    expect(history.status).toBe(200);
    expect(history.body.result.data.items).toHaveLength(1);
    expect(history.body.result.data.items[0].action).toBe("unfreeze");
    const next = await trpcQuery(t.url, "emergency.history", { limit: 5, cursor: history.body.result.data.nextCursor }, bearer(admin));
    expect(next.body.result.data).toMatchObject({ items: [{ action: "freeze" }], nextCursor: null });
    expect((await trpcQuery(t.url, "emergency.history", undefined, bearer(user))).status).toBe(403);
  });

  it("REST aliases take the same auth and bodies and answer with the same statuses", async () => {
    expect((await rest(t, "POST", "freeze", { reason: "via curl" })).status).toBe(401);
    expect((await rest(t, "POST", "freeze", { reason: "via curl" }, bearer(admin))).status).toBe(403);
    const bad = await rest(t, "POST", "freeze", { reason: "" }, bearer(root));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "BAD_REQUEST", issues: { fieldErrors: { reason: [expect.any(String)] } } });
    expect((await rest(t, "POST", "freeze", { reason: "valid", scope: "nope" }, bearer(root))).status).toBe(400);

    const frozen = await rest(t, "POST", "freeze", { reason: "via curl", scope: "global" }, bearer(root));
    expect(frozen.status).toBe(200);
    expect(frozen.body).toMatchObject({ active: true, reason: "via curl", acknowledgedBy: 1 });
    // /v1 answers in OpenAI's error shape, so OpenAI SDKs raise a clean 503 error.
    const refused = await fetch(`${t.url}/v1/chat/completions`, { method: "POST" });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("30");
    const openaiError = ((await refused.json()) as { error: { message: string } }).error;
    expect(openaiError).toMatchObject({ code: "emergency_stop", type: "api_error" });
    expect(openaiError.message).toContain("via curl");
    // Other REST routes answer {error:{code, reason, ...}}.
    const alias = await rest(t, "POST", "freeze", { reason: "again" }, bearer(root));
    expect(alias.status).toBe(503);
    expect(alias.headers.get("retry-after")).toBe("30");
    expect(alias.body.error).toMatchObject({ code: "EMERGENCY_STOP", reason: "via curl", scope: "global", activatedBy: "root@switchboard.test" });

    // The SPA's cookie works as well as a Bearer token.
    const unfrozen = await rest(t, "POST", "unfreeze", undefined, { cookie: `sb_access=${root}`, origin: t.url });
    expect(unfrozen.status).toBe(200);
    expect(unfrozen.body).toMatchObject({ active: false, changed: true });
  });

  it("a SuperAdmin's API key with every default scope freezes and unfreezes through the REST aliases (a kill-switch script), audited under its owner; a narrowed key, an ADMIN's, or the key on users, keys or a provider's change is refused", async () => {
    const rootKeys = t.client(root).keys;
    const script = await rootKeys.create.mutate({ name: "kill switch" });
    const frozen = await rest(t, "POST", "freeze", { reason: "alert fired", scope: "chat" }, bearer(script.key));
    expect(frozen.status).toBe(200);
    expect(frozen.body).toMatchObject({ active: true, changed: true });
    const unfrozen = await rest(t, "POST", "unfreeze", { reason: "alert resolved" }, bearer(script.key));
    expect(unfrozen.status).toBe(200);
    expect(unfrozen.body).toMatchObject({ active: false, changed: true });
    const rows = (await auditRows(t)).slice(-2);
    expect(rows.map((r) => [r.action, r.reason, r.actorEmail])).toEqual([
      ["freeze", "alert fired", "root@switchboard.test"],
      ["unfreeze", "alert resolved", "root@switchboard.test"],
    ]);
    expect((await trpcQuery(t.url, "emergency.history", { limit: 1 }, bearer(script.key))).status).toBe(200);

    // A key narrowed to some scopes stays within them, whoever owns it.
    const chatOnly = await rootKeys.create.mutate({ name: "chat only", scopes: ["chat"] });
    const narrowed = await rest(t, "POST", "freeze", { reason: "nope" }, bearer(chatOnly.key));
    expect(narrowed.status).toBe(403);
    expect(narrowed.body.error.message).toContain('"chat"');
    // Never more than its owner: an ADMIN's key cannot freeze.
    const adminKey = await t.client(admin).keys.create.mutate({ name: "admin's" });
    expect((await rest(t, "POST", "freeze", { reason: "nope" }, bearer(adminKey.key))).status).toBe(403);
    // Nothing else of a SuperAdmin's is open to its key: it never mints another key, takes
    // over an account or moves an upstream (any of which would outlive its revocation).
    expect((await trpcMutation(t.url, "keys.create", { name: "child" }, bearer(script.key))).status).toBe(403);
    expect((await trpcQuery(t.url, "keys.list", undefined, bearer(script.key))).status).toBe(403);
    expect((await trpcMutation(t.url, "users.create", { email: "mallory@switchboard.test", password: "a-long-enough-password", role: "SUPERADMIN" }, bearer(script.key))).status).toBe(403);
    // Providers and routes take only a key given write:config by name.
    expect((await trpcQuery(t.url, "providers.list", undefined, bearer(script.key))).status).toBe(403);
    expect((await trpcMutation(t.url, "models.upsert", { name: "moved", targets: [{ provider: "template", upstreamModel: "m" }] }, bearer(script.key))).status).toBe(403);
    expect((await rest(t, "GET", "status")).body.active).toBe(false);
  });

  it("scopes: chat stops chat and /v1 only, consensus stops consensus only, provider stops one provider", async () => {
    const freeze = async (scope: string) =>
      expect((await trpcMutation(t.url, "emergency.freeze", { reason: `scope ${scope}`, scope }, bearer(root))).status).toBe(200);
    const unfreeze = async () => expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
    const e = t.app.deps.emergency;

    await freeze("chat");
    expect((await fetch(`${t.url}/v1/models`)).status).toBe(503);
    const responses = await fetch(`${t.url}/v1/responses`, { method: "POST", headers: { ...bearer(root), "content-type": "application/json" }, body: JSON.stringify({ model: "auto", input: "hi" }) });
    expect(responses.status).toBe(503);
    expect(responses.headers.get("x-should-retry")).toBe("false");
    expect(e.check({ kind: "feature", feature: "chat" })?.code).toBe("EMERGENCY_STOP");
    expect(e.check({ kind: "feature", feature: "consensus" })).toBeNull();
    expect((await trpcQuery(t.url, "users.list", undefined, bearer(root))).status).toBe(200);
    expect((await trpcQuery(t.url, "emergency.history", undefined, bearer(root))).status).toBe(200);
    // A narrower freeze can be widened (or replaced) without unfreezing first.
    await freeze("consensus");
    expect((await fetch(`${t.url}/v1/models`)).status).not.toBe(503);
    expect(e.check({ kind: "feature", feature: "consensus" })?.code).toBe("EMERGENCY_STOP");
    expect(e.check({ kind: "feature", feature: "chat" })).toBeNull();

    await freeze("provider:openai");
    expect(e.isProviderFrozen("openai")).toBe(true);
    expect(e.isProviderFrozen("deepseek")).toBe(false);
    expect(e.check({ kind: "feature", feature: "chat" })).toBeNull();
    expect((await fetch(`${t.url}/v1/models`)).status).not.toBe(503);
    await unfreeze();
    expect(e.isProviderFrozen("openai")).toBe(false);

    const rows = await auditRows(t);
    expect(rows.slice(-4).map((r) => `${r.action}:${r.scope}`)).toEqual([
      "freeze:chat", "freeze:consensus", "freeze:provider:openai", "unfreeze:provider:openai",
    ]);
  });
});
