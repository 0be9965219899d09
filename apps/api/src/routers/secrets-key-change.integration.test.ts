/**
 * Provider secrets sealed under another SECRETS_KEY (the key was rotated, or one instance of
 * a cluster runs with its own): the instance still starts and follows every change; the
 * providers whose secrets it cannot decrypt are listed as such, never called (nothing goes
 * out without its key or headers) but skipped like an unconfigured provider — no failed
 * attempt, circuit or consensus default spent on them — and setting the secrets
 * again (providers.update, or a document stating them) makes them work, as docs/operations.md
 * describes for a rotation.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { startTestApp, TEST_SUPERADMIN, type TestApp } from "../../test/app.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../test/redis.ts";

const prefix = uniquePrefix("secrets-key");
let groq: FakeOpenAIServer;
let first: TestApp;
let rotated: TestApp | undefined;

beforeAll(async () => {
  groq = await startFakeOpenAI({ name: "groq", defaultBehavior: { kind: "ok", content: "from groq" } });
  first = await startTestApp({ redisKeyPrefix: prefix });
  const root = first.client(await first.login());
  await root.providers.create.mutate({ name: "groq", kind: "openai-compatible", baseUrl: groq.url, apiKey: "sk-sealed-under-the-old-key-1234", headers: { "x-tenant": "team-a" }, models: ["llama-3"] });
  await root.models.upsert.mutate({ name: "auto", targets: [{ provider: "groq", upstreamModel: "llama-3" }, { provider: "template", upstreamModel: "switchboard-template-1" }] });
});
afterAll(async () => {
  await rotated?.close();
  await first?.close();
  await groq?.close();
  await deleteKeysWithPrefix(prefix);
});

describe("a SECRETS_KEY that cannot open the stored provider secrets", () => {
  it("starts, lists them as unreadable, calls nothing without them, and takes them again", async () => {
    // Another key on the same database: what a rotation's restart (or a misconfigured instance) meets.
    rotated = await startTestApp({ databaseUrl: first.app.deps.env.DATABASE_URL!, redisKeyPrefix: prefix, env: { SECRETS_KEY: randomBytes(32).toString("base64") } });
    const root = rotated.client(await rotated.login(TEST_SUPERADMIN.email, TEST_SUPERADMIN.password));

    const listed = (await root.providers.list.query()).items.find((p) => p.name === "groq")!;
    expect(listed.unreadableSecrets).toEqual(["apiKey", "headers"]);
    expect(listed.apiKeyMasked).toBe("(unreadable)");
    expect(listed.headers).toEqual({});
    // The export needs no secret and still works.
    expect((await root.config.export.query()).providers.map((p) => p.name)).toEqual(["groq"]);

    // Not called without its key and tenant header: skipped like a provider not configured, so
    // the template answers with no failed attempt booked against groq (nor its circuit).
    const calls = groq.requests.length;
    const answer = await root.chat.send.mutate({ message: "hello" });
    expect(answer.provider).toBe("template");
    expect(answer.attempts.map((a) => [a.provider, a.outcome])).toEqual([["template", "success"]]);
    expect(rotated.app.deps.gateway.breaker.snapshot("groq").consecutiveFailures).toBe(0);
    expect(groq.requests.length).toBe(calls);
    // Nor does consensus ask it by default (it would use up quorum), and naming it is answered
    // as naming a provider that is not configured.
    expect((await root.consensus.models.query()).defaults.providers).not.toContain("groq");
    await expect(root.consensus.query.query({ prompt: "hello", strategy: "majority", providers: ["groq", "template"] })).rejects.toThrow("Provider groq not configured");
    expect(groq.requests.length).toBe(calls);
    const test = await root.providers.test.mutate({ id: listed.id });
    expect(test.ok).toBe(false);
    expect(test.error).toContain("cannot be decrypted with this SECRETS_KEY");
    expect(groq.requests.length).toBe(calls);

    // A document stating the secrets sets them again (a stated secret differs from an unreadable one).
    const applied = await root.config.import.mutate({
      document: {
        providers: [{ name: "groq", kind: "openai-compatible", baseUrl: groq.url, apiKey: "sk-entered-again-5678", headers: { "x-tenant": "team-a" }, models: ["llama-3"] }],
        models: [{ name: "auto", targets: [{ provider: "groq", upstreamModel: "llama-3" }, { provider: "template", upstreamModel: "switchboard-template-1" }] }],
      },
    });
    expect(applied.steps).toEqual([{ action: "update", kind: "provider", name: "groq", fields: ["apiKey", "headers"] }]);
    const fixed = (await root.providers.list.query()).items.find((p) => p.name === "groq")!;
    expect(fixed.unreadableSecrets).toEqual([]);
    expect(fixed.apiKeyMasked).toBe("sk-…5678");
    const again = await root.chat.send.mutate({ message: "hello" });
    expect(again.provider).toBe("groq");
    expect(groq.requests.at(-1)?.headers).toMatchObject({ authorization: "Bearer sk-entered-again-5678", "x-tenant": "team-a" });
  });

  it("leaves the instance on the old key following later changes (it is the one that cannot read the new secrets now)", async () => {
    const root = first.client(await first.login());
    const made = await rotated!.client(await rotated!.login()).models.upsert.mutate({ name: "later", targets: [{ provider: "template", upstreamModel: "switchboard-template-1" }] });
    await first.app.deps.gateway.config.ensure(made.version);
    expect(first.app.deps.gateway.config.version()).toBe(made.version);
    expect((await root.models.list.query()).items.map((m) => m.name)).toContain("later");
    expect((await root.providers.list.query()).items.find((p) => p.name === "groq")?.unreadableSecrets).toEqual(["apiKey", "headers"]);
  });
});
