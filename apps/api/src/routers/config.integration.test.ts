/**
 * Configuration as code, through the wire: a SuperAdmin's `write:config` API key manages
 * providers and routes (audited under the key), who may give that scope, and `config.export`
 * / `config.import` — a document applied as one version, only what differs, secrets compared
 * as held, a dry run that changes nothing, pruning that spares `auto` and the template, and a
 * refusal of any change rolling back all of them.
 */
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation } from "../../test/http.ts";

let t: TestApp;
let groq: FakeOpenAIServer;
let root: string;

beforeAll(async () => {
  groq = await startFakeOpenAI({ name: "groq", defaultBehavior: { kind: "ok", content: "from groq" } });
  t = await startTestApp();
  root = await t.login();
});
afterAll(async () => {
  await t?.close();
  await groq?.close();
});

const version = async () => (await t.app.deps.db.prisma.gatewayConfig.findUnique({ where: { id: 1 } }))?.version ?? 0;
const auditSince = (after: number) =>
  t.app.deps.db.prisma.configAudit.findMany({ where: { version: { gt: after } }, orderBy: [{ version: "asc" }, { createdAt: "asc" }] });

async function refusal(call: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  expect(error, "expected a refusal").toBeInstanceOf(TRPCClientError);
  const e = error as TRPCClientError<never>;
  return { code: (e.data as { code?: string } | undefined)?.code, message: e.message };
}

describe("write:config: a SuperAdmin's key for configuration as code", () => {
  it("is not among a new key's default scopes, so a default key is refused on providers", async () => {
    const created = await t.client(root).keys.create.mutate({ name: "default" });
    expect(created.scopes).not.toContain("write:config");
    const refused = await refusal(t.client(created.key).providers.create.mutate({ name: "nope", kind: "openai-compatible", baseUrl: groq.url, models: [] }));
    expect(refused.code).toBe("FORBIDDEN");
    expect(refused.message).toContain('"write:config"');
    // The default key still pulls the emergency stop (every default scope, as before).
    const frozen = await t.client(created.key).emergency.freeze.mutate({ reason: "drill", scope: "provider:template" });
    expect(frozen.active).toBe(true);
    await t.client(root).emergency.unfreeze.mutate({});
  });

  it("lets a program create, change and delete providers and routes, each audited under the key", async () => {
    const before = await version();
    const key = await t.client(root).keys.create.mutate({ name: "pipeline", scopes: ["write:config"] });
    const program = t.client(key.key);
    const created = await program.providers.create.mutate({ name: "groq-by-key", kind: "openai-compatible", baseUrl: groq.url, apiKey: "sk-pipeline-0123456789", models: ["llama-3"] });
    expect(created.provider?.apiKeyMasked).toBe("sk-…6789");
    await program.models.upsert.mutate({ name: "fast-by-key", targets: [{ provider: "groq-by-key", upstreamModel: "llama-3" }] });
    expect((await program.models.list.query()).items.map((m) => m.name)).toContain("fast-by-key");
    expect((await program.providers.list.query()).items.map((p) => p.name)).toContain("groq-by-key");
    await program.models.delete.mutate({ name: "fast-by-key" });
    await program.providers.delete.mutate({ id: created.provider!.id });

    const rows = await auditSince(before);
    expect(rows.map((r) => r.action)).toEqual(["provider.create", "model.upsert", "model.delete", "provider.delete"]);
    expect(rows.every((r) => r.actorKeyId === key.id && r.actorEmail === "root@switchboard.test")).toBe(true);
    // Signed in, the audit names no key.
    await t.client(root).models.upsert.mutate({ name: "signed-in", targets: [{ provider: "template", upstreamModel: "switchboard-template-1" }] });
    expect((await auditSince(before + 4))[0]!.actorKeyId).toBeNull();
    await t.client(root).models.delete.mutate({ name: "signed-in" });
  });

  it("is given only by a SuperAdmin, only to a SuperAdmin's key, and acts no more than its owner's role", async () => {
    const admin = await t.userWithRole("ADMIN");
    // An ADMIN cannot give it to their own key, on create or later.
    expect((await refusal(t.client(admin.token).keys.create.mutate({ name: "sneaky", scopes: ["chat", "write:config"] }))).code).toBe("FORBIDDEN");
    const own = await t.client(admin.token).keys.create.mutate({ name: "plain" });
    expect((await refusal(t.client(admin.token).keys.update.mutate({ id: own.id, scopes: ["write:config"] }))).code).toBe("FORBIDDEN");
    // A SuperAdmin cannot give it to an ADMIN's key either.
    expect((await refusal(t.client(root).keys.update.mutate({ id: own.id, scopes: ["write:config"] }))).code).toBe("FORBIDDEN");
    expect((await t.client(root).keys.get.query({ id: own.id })).scopes).not.toContain("write:config");

    // A key that has it is changed only by a SuperAdmin: an ADMIN can neither revive nor widen
    // it (only revoke it); a SuperAdmin's change keeps the scope.
    const superAdmin = await t.userWithRole("SUPERADMIN");
    const key = await t.client(superAdmin.token).keys.create.mutate({ name: "ops", scopes: ["models", "write:config"], rateLimitPerMin: 5 });
    expect((await refusal(t.client(admin.token).keys.update.mutate({ id: key.id, rateLimitPerMin: null }))).code).toBe("FORBIDDEN");
    expect((await refusal(t.client(admin.token).keys.update.mutate({ id: key.id, expiresAt: null }))).code).toBe("FORBIDDEN");
    expect((await t.client(root).keys.get.query({ id: key.id })).rateLimitPerMin).toBe(5);
    const renamed = await t.client(root).keys.update.mutate({ id: key.id, name: "ops-renamed", rateLimitPerMin: 600 });
    expect(renamed.scopes).toEqual(["models", "write:config"]);
    // read:metrics (a default scope) reads none of the configuration: only write:config does.
    const dashboard = await t.client(admin.token).keys.create.mutate({ name: "dashboard", scopes: ["read:metrics"] });
    for (const read of [t.client(dashboard.key).providers.list.query(), t.client(dashboard.key).config.export.query(), t.client(dashboard.key).config.history.query()]) {
      expect((await refusal(read)).code).toBe("FORBIDDEN");
    }
    // …and once its owner is demoted, acts as an ADMIN: configuration changes are refused.
    await t.client(root).users.update.mutate({ id: superAdmin.id, role: "ADMIN" });
    await expect.poll(async () => (await refusal(t.client(key.key).models.upsert.mutate({ name: "x", targets: [{ provider: "template", upstreamModel: "m" }] }))).code, { timeout: 5000 }).toBe("FORBIDDEN");
    expect((await t.client(key.key).config.export.query()).models.length).toBeGreaterThan(0);
    // An ADMIN may still revoke it.
    expect((await t.client(admin.token).keys.revoke.mutate({ id: key.id })).revokedAt).not.toBeNull();
  });
});

describe("config.export / config.import", () => {
  const groqProvider = () => ({ name: "groq", kind: "openai-compatible" as const, baseUrl: groq.url, apiKey: "sk-groq-first-0123456789", models: ["llama-3"], timeoutMs: 20_000 });

  it("exports a document without secrets that applies back as no change at all", async () => {
    await t.client(root).providers.create.mutate({ ...groqProvider(), name: "exported", headers: { "x-team": "team-secret-value" } });
    const document = await t.client(root).config.export.query();
    expect(document.providers.find((p) => p.name === "exported")).toEqual({ name: "exported", kind: "openai-compatible", baseUrl: groq.url, models: ["llama-3"], timeoutMs: 20_000 });
    expect(document.providers.map((p) => p.name)).not.toContain("template");
    expect(document.models.map((m) => m.name)).toContain("auto");
    expect(JSON.stringify(document)).not.toContain("sk-groq-first");
    expect(JSON.stringify(document)).not.toContain("team-secret-value");

    const before = await version();
    const applied = await t.client(root).config.import.mutate({ document });
    expect(applied).toMatchObject({ dryRun: false, steps: [], change: null });
    expect(applied.unchanged).toBe(document.providers.length + document.models.length);
    expect(await version()).toBe(before);
    const stored = await t.app.deps.db.prisma.provider.findUnique({ where: { name: "exported" } });
    expect(stored?.apiKeyCipher).not.toBeNull();
    expect(stored?.headersCipher).not.toBeNull();
    await t.client(root).providers.delete.mutate({ id: stored!.id });
  });

  it("applies what differs as one version, each change audited, and the new route answers at once", async () => {
    const key = await t.client(root).keys.create.mutate({ name: "gitops", scopes: ["chat", "write:config"] });
    const program = t.client(key.key);
    const current = await program.config.export.query();
    const document = {
      providers: [...current.providers, groqProvider()],
      models: [...current.models, { name: "fast", targets: [{ provider: "groq", upstreamModel: "llama-3", weight: 2 }], inputPricePerMTok: 0.5, outputPricePerMTok: 1.5 }],
    };
    const before = await version();

    const preview = await program.config.import.mutate({ document, dryRun: true });
    expect(preview.steps).toEqual([
      { action: "create", kind: "provider", name: "groq", fields: [] },
      { action: "create", kind: "model", name: "fast", fields: [] },
    ]);
    expect(preview.change).toBeNull();
    expect(await version()).toBe(before);
    expect((await program.models.list.query()).items.map((m) => m.name)).not.toContain("fast");

    const applied = await program.config.import.mutate({ document });
    expect(applied.steps).toEqual(preview.steps);
    expect(applied.change).toMatchObject({ version: before + 1, acknowledgedBy: 1, liveInstances: 1 });
    const rows = await auditSince(before);
    expect(rows.map((r) => [r.version, r.action, r.target, r.actorKeyId])).toEqual([
      [before + 1, "provider.create", "groq", key.id],
      [before + 1, "model.upsert", "fast", key.id],
    ]);
    expect(JSON.stringify(rows)).not.toContain("sk-groq-first");

    const answer = await program.chat.send.mutate({ message: "hi", model: "fast" });
    expect(answer.content).toBe("from groq");
    expect(groq.requests.at(-1)?.headers.authorization).toBe("Bearer sk-groq-first-0123456789");

    // The same document again: nothing to change, no version.
    const again = await program.config.import.mutate({ document });
    expect(again.steps).toEqual([]);
    expect(await version()).toBe(before + 1);

    // A changed key and a changed price: only those fields, secrets named but never shown.
    const rotated = {
      providers: document.providers.map((p) => (p.name === "groq" ? { ...p, apiKey: "sk-groq-second-0123456789" } : p)),
      models: document.models.map((m) => (m.name === "fast" ? { ...m, outputPricePerMTok: 2 } : m)),
    };
    const changed = await program.config.import.mutate({ document: rotated });
    expect(changed.steps).toEqual([
      { action: "update", kind: "provider", name: "groq", fields: ["apiKey"] },
      { action: "update", kind: "model", name: "fast", fields: ["outputPricePerMTok"] },
    ]);
    const keyAudit = (await auditSince(before + 1)).find((r) => r.target === "groq");
    expect(keyAudit?.changes).toEqual({ apiKey: "set" });
    await program.chat.send.mutate({ message: "hi again", model: "fast" });
    expect(groq.requests.at(-1)?.headers.authorization).toBe("Bearer sk-groq-second-0123456789");
  });

  it("prunes what the document leaves out, but never `auto` or the offline template, routes before their providers", async () => {
    await t.client(root).providers.create.mutate({ ...groqProvider(), name: "stale" });
    await t.client(root).models.upsert.mutate({ name: "stale-route", targets: [{ provider: "stale", upstreamModel: "llama-3" }] });
    const current = await t.client(root).config.export.query();
    const document = { providers: current.providers.filter((p) => p.name !== "stale"), models: current.models.filter((m) => m.name !== "stale-route") };

    // Without prune, what it leaves out stays.
    expect((await t.client(root).config.import.mutate({ document })).steps).toEqual([]);
    const pruned = await t.client(root).config.import.mutate({ document, prune: true });
    expect(pruned.steps).toEqual([
      { action: "delete", kind: "model", name: "stale-route", fields: [] },
      { action: "delete", kind: "provider", name: "stale", fields: [] },
    ]);

    // A document with nothing in it, pruned: everything would go but `auto` and the template —
    // but `auto` (kept) still names a provider it drops, so nothing goes at all.
    const autoBefore = current.models.find((m) => m.name === "auto")!;
    await t.client(root).models.upsert.mutate({ name: "auto", targets: [{ provider: "groq", upstreamModel: "llama-3" }, ...autoBefore.targets] });
    const before = await version();
    const emptied = await refusal(t.client(root).config.import.mutate({ document: { providers: [], models: [] }, prune: true }));
    expect(emptied.code).toBe("CONFLICT");
    expect(emptied.message).toContain("auto");
    expect(await version()).toBe(before);
    const after = await t.client(root).config.export.query();
    expect(after.providers.map((p) => p.name)).toEqual(document.providers.map((p) => p.name));
    expect(after.models.map((m) => m.name)).toEqual(document.models.map((m) => m.name));

    // With `auto` back on the template alone, the same empty document leaves just those two.
    await t.client(root).models.upsert.mutate(autoBefore);
    const all = await t.client(root).config.import.mutate({ document: { providers: [], models: [] }, prune: true });
    expect(all.steps.every((s) => s.action === "delete")).toBe(true);
    expect(all.steps.map((s) => s.name)).not.toContain("auto");
    expect((await t.client(root).providers.list.query()).items.map((p) => p.name)).toEqual(["template"]);
    expect((await t.client(root).models.list.query()).items.map((m) => m.name)).toEqual(["auto"]);
  });

  it("refuses a document that cannot be applied whole, changing nothing", async () => {
    const current = await t.client(root).config.export.query();
    const before = await version();
    const providersBefore = await t.app.deps.db.prisma.provider.count();

    // A valid new provider, then a route naming a provider that does not exist: neither lands.
    const broken = { providers: [...current.providers, { ...groqProvider(), name: "half-way" }], models: [{ name: "broken", targets: [{ provider: "nobody", upstreamModel: "m" }] }] };
    const missing = await refusal(t.client(root).config.import.mutate({ document: broken }));
    expect(missing.code).toBe("BAD_REQUEST");
    expect(missing.message).toContain("nobody");
    expect(await version()).toBe(before);
    expect(await t.app.deps.db.prisma.provider.count()).toBe(providersBefore);

    const twice = await refusal(t.client(root).config.import.mutate({ document: { providers: [groqProvider(), groqProvider()], models: [] } }));
    expect(twice.code).toBe("BAD_REQUEST");
    expect(twice.message).toContain("same name");

    const template = await refusal(t.client(root).config.import.mutate({ document: { providers: [{ ...groqProvider(), name: "template" }], models: [] } }));
    expect(template.code).toBe("BAD_REQUEST");
    expect(template.message).toContain("offline template");
    expect(await version()).toBe(before);
  });

  it("tries every change in a dry run, so it meets the refusals the real one would; applies only at the version previewed", async () => {
    const current = await t.client(root).config.export.query();
    const before = await version();
    // Refused by the store, not the plan: a route naming no provider, a target listed twice.
    const missing = await refusal(t.client(root).config.import.mutate({ document: { ...current, models: [...current.models, { name: "ghost", targets: [{ provider: "nobody", upstreamModel: "m" }] }] }, dryRun: true }));
    expect(missing.code).toBe("BAD_REQUEST");
    expect(missing.message).toMatch(/^model 'ghost': targets\.0\.provider: no provider named 'nobody'/);
    const twice = await refusal(t.client(root).config.import.mutate({ document: { ...current, models: [...current.models, { name: "twice", targets: [{ provider: "template", upstreamModel: "m" }, { provider: "template", upstreamModel: "m" }] }] }, dryRun: true }));
    expect(twice.message).toContain("model 'twice'");
    expect(await version()).toBe(before);
    expect(await t.app.deps.db.prisma.configAudit.count({ where: { version: { gt: before } } })).toBe(0);

    // Previewed at one version, changed meanwhile: applying that preview is a 409, nothing changed.
    const document = { ...current, models: [...current.models, { name: "previewed", targets: [{ provider: "template", upstreamModel: "m" }] }] };
    const preview = await t.client(root).config.import.mutate({ document, dryRun: true });
    expect(preview.basedOn).toBe(before);
    await t.client(root).models.upsert.mutate({ name: "meanwhile", targets: [{ provider: "template", upstreamModel: "m" }] });
    const stale = await refusal(t.client(root).config.import.mutate({ document, ifVersion: preview.basedOn }));
    expect(stale.code).toBe("CONFLICT");
    expect(stale.message).toContain(`changed since version ${before}`);
    expect((await t.client(root).models.list.query()).items.map((m) => m.name)).not.toContain("previewed");
    const fresh = await t.client(root).config.import.mutate({ document, dryRun: true });
    expect((await t.client(root).config.import.mutate({ document, ifVersion: fresh.basedOn })).steps).toEqual([{ action: "create", kind: "model", name: "previewed", fields: [] }]);
    await t.client(root).config.import.mutate({ document: current, prune: true });
  });

  it("refuses a field it does not know rather than read it as a default, and frees a pruned route's name first", async () => {
    const current = await t.client(root).config.export.query();
    const typo = await trpcMutation(t.url, "config.import", { document: { ...current, providers: [{ ...groqProvider(), timeoutMS: 1000 }] } }, bearer(root));
    expect(typo.status).toBe(400);
    expect(JSON.stringify(typo.body)).toContain("timeoutMS");
    expect((await trpcMutation(t.url, "config.import", { document: { ...current, version: 3 } }, bearer(root))).status).toBe(400);

    // A route named `swap` becomes a provider named `swap` in one document.
    await t.client(root).models.upsert.mutate({ name: "swap", targets: [{ provider: "template", upstreamModel: "m" }] });
    const swapped = await t.client(root).config.import.mutate({ document: { providers: [...current.providers, { ...groqProvider(), name: "swap" }], models: current.models }, prune: true });
    expect(swapped.steps.map((s) => `${s.action} ${s.kind} ${s.name}`)).toEqual(["delete model swap", "create provider swap"]);
    await t.client(root).config.import.mutate({ document: current, prune: true });
  });

  it("moves a provider elsewhere with a key only when the key restates its secrets; the test call is for people signed in", async () => {
    const other = await startFakeOpenAI({ name: "elsewhere", defaultBehavior: { kind: "ok", content: "elsewhere" } });
    try {
      const key = await t.client(root).keys.create.mutate({ name: "mover", scopes: ["chat", "write:config"] });
      const program = t.client(key.key);
      const current = await program.config.export.query();
      const held = { ...groqProvider(), name: "held", headers: { "x-org": "org-secret-value" } };
      await t.client(root).config.import.mutate({ document: { ...current, providers: [...current.providers, held] } });
      const exported = await program.config.export.query();
      const moved = (p: Record<string, unknown>) => ({ ...exported, providers: exported.providers.map((x) => (x.name === "held" ? { ...x, ...p } : x)) });

      // Only baseUrl changed: the stored key and header would go to the new host. Refused.
      const silent = await refusal(program.config.import.mutate({ document: moved({ baseUrl: other.url }) }));
      expect(silent.code).toBe("FORBIDDEN");
      expect(silent.message).toContain("stated again");
      expect(await refusal(program.providers.update.mutate({ id: (await t.app.deps.db.prisma.provider.findUniqueOrThrow({ where: { name: "held" } })).id, baseUrl: other.url }))).toMatchObject({ code: "FORBIDDEN" });
      // Another path on the same host is a move too (another tenant of a shared gateway).
      expect((await refusal(program.config.import.mutate({ document: moved({ baseUrl: `${groq.url}/other-tenant` }) }))).code).toBe("FORBIDDEN");
      // Nor may a header say where the calls go.
      const hostHeader = await trpcMutation(t.url, "config.import", { document: moved({ headers: { Host: "elsewhere.internal" } }) }, bearer(key.key));
      expect(hostHeader.status).toBe(400);
      expect(hostHeader.body.error.message).toContain("set baseUrl instead");
      // Restated (the same values), the move goes through with them.
      const restated = await program.config.import.mutate({ document: moved({ baseUrl: other.url, apiKey: held.apiKey, headers: held.headers }) });
      expect(restated.steps).toEqual([{ action: "update", kind: "provider", name: "held", fields: ["baseUrl", "apiKey", "headers"] }]);
      expect(other.requests).toHaveLength(0);

      const heldId = (await t.app.deps.db.prisma.provider.findUniqueOrThrow({ where: { name: "held" } })).id;
      expect((await refusal(program.providers.test.mutate({ id: heldId }))).code).toBe("FORBIDDEN");
      expect((await t.client(root).providers.test.mutate({ id: heldId })).ok).toBe(true);
      await t.client(root).config.import.mutate({ document: current, prune: true });
    } finally {
      await other.close();
    }
  });

  it("answers hostile input over HTTP with 400/401/403, never a 500", async () => {
    const noBody = await trpcMutation(t.url, "config.import", { document: "nope" }, bearer(root));
    expect(noBody.status).toBe(400);
    const tooMany = await trpcMutation(t.url, "config.import", { document: { providers: [], models: Array.from({ length: 501 }, (_, i) => ({ name: `m${i}`, targets: [{ provider: "template", upstreamModel: "x" }] })) } }, bearer(root));
    expect(tooMany.status).toBe(400);
    expect((await trpcMutation(t.url, "config.import", { document: { providers: [], models: [] } })).status).toBe(401);
    const admin = await t.userWithRole("ADMIN");
    expect((await trpcMutation(t.url, "config.import", { document: { providers: [], models: [] } }, bearer(admin.token))).status).toBe(403);
  });
});

describe("config.history", () => {
  it("lists every change newest first, naming who and the key it came with, by target and page by page", async () => {
    const key = await t.client(root).keys.create.mutate({ name: "history-pipeline", scopes: ["write:config"] });
    const before = await version();
    const document = await t.client(root).config.export.query();
    await t.client(key.key).config.import.mutate({
      document: { providers: [...document.providers, { name: "audited", kind: "openai-compatible", baseUrl: groq.url, apiKey: "sk-history-0123456789", models: ["m"] }], models: document.models },
    });
    await t.client(root).providers.update.mutate({ id: (await t.app.deps.db.prisma.provider.findUniqueOrThrow({ where: { name: "audited" } })).id, timeoutMs: 5000 });

    const admin = await t.userWithRole("ADMIN");
    const page = await t.client(admin.token).config.history.query({ target: "audited" });
    expect(page.items.map((e) => [e.version, e.action, e.actorKeyName])).toEqual([
      [before + 2, "provider.update", null],
      [before + 1, "provider.create", "history-pipeline"],
    ]);
    expect(page.items[1]).toMatchObject({ actorEmail: "root@switchboard.test", actorKeyId: key.id, changes: { apiKey: "set", baseUrl: groq.url } });
    expect(page.items[0]!.changes).toEqual({ timeoutMs: 5000 });
    expect(JSON.stringify(page)).not.toContain("sk-history");

    // The pipeline's key reads it too; pages follow the cursor without repeats.
    const first = await t.client(key.key).config.history.query({ limit: 2 });
    const second = await t.client(key.key).config.history.query({ limit: 2, cursor: first.nextCursor! });
    expect(first.items).toHaveLength(2);
    expect(first.items[0]!.target).toBe("audited");
    expect(second.items.map((e) => e.id)).not.toContain(first.items[0]!.id);
    expect(second.items[0]!.version).toBeLessThanOrEqual(first.items[1]!.version);
    // One version's changes read in the order they were made: the provider before the route that needs it.
    const together = await version();
    const withRoute = await t.client(root).config.export.query();
    await t.client(root).config.import.mutate({
      document: {
        providers: [...withRoute.providers, { name: "ordered", kind: "openai-compatible", baseUrl: groq.url, models: ["m"] }],
        models: [...withRoute.models, { name: "ordered-route", targets: [{ provider: "ordered", upstreamModel: "m" }] }],
      },
    });
    const latest = (await t.client(key.key).config.history.query({ limit: 10 })).items.filter((e) => e.version === together + 1);
    expect(latest.map((e) => [e.action, e.target])).toEqual([
      ["provider.create", "ordered"],
      ["model.upsert", "ordered-route"],
    ]);
    // A cursor that names nothing is refused, not an empty page a caller would take for the end.
    await expect(t.client(key.key).config.history.query({ cursor: "no-such-entry" })).rejects.toMatchObject({ data: { httpStatus: 404, appCode: "NOT_FOUND" } });
  });
});
