/**
 * Provider names and model route names are one namespace, as clients see it: a route may not
 * take a provider's name, `provider/…` or `switchboard`, and a provider may not take a
 * route's name. Each clash is a 409 naming it, nothing saved, and /v1/models never lists an
 * id twice; two instances racing to take one name end with one owner and one 409.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation } from "../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";

let a: TestApp;
let b: TestApp;
let up: Upstreams<"openai">;
let root: string;

beforeAll(async () => {
  up = await startUpstreams(["openai"]);
  a = await startTestApp({ env: up.env });
  b = await startTestApp({ env: up.env, databaseUrl: a.app.deps.env.DATABASE_URL!, redisKeyPrefix: a.app.deps.env.REDIS_KEY_PREFIX });
  root = await a.login();
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await up?.close();
});

const version = async () => (await a.app.deps.db.prisma.gatewayConfig.findUnique({ where: { id: 1 } }))?.version ?? 0;
const route = (name: string) => ({ name, targets: [{ provider: "openai", upstreamModel: "gpt-4o-mini" }] });
const provider = (name: string) => ({ name, kind: "openai-compatible" as const, baseUrl: up.fakes.openai.url, models: ["gpt-4o-mini"] });

async function modelIds(t: TestApp): Promise<string[]> {
  const res = await fetch(`${t.url}/v1/models`, { headers: bearer(root) });
  return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
}

describe("models.upsert refuses a name clients would read as something else", () => {
  it.each([
    ["a provider's name", "openai", "The name 'openai' is a provider's; choose another"],
    ["the offline template's name", "template", "The name 'template' is a provider's; choose another"],
    ["a provider with its model, as /v1/models lists it", "openai/gpt-4o-mini", "The name 'openai/gpt-4o-mini' names a model of the provider 'openai'; choose another"],
    ["a provider with any other model", "openai/gpt-4o", "names a model of the provider 'openai'"],
    ["the default route's other name", "switchboard", "The name 'switchboard' is another name for 'auto'"],
  ])("%s: 409, nothing saved", async (_label, name, message) => {
    const before = await version();
    const res = await trpcMutation(a.url, "models.upsert", route(name), bearer(root));
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.message).toContain(message);
    expect(res.body.error.data).toMatchObject({ code: "CONFLICT", field: "name" });
    expect(await version()).toBe(before);
    expect((await a.client(root).models.list.query()).items.map((m) => m.name)).not.toContain(name);
  });

  it("still takes `auto` (the default route, edited), a model a provider serves, and a name only a provider's in another case", async () => {
    const admin = a.client(root);
    await admin.models.upsert.mutate(route("auto"));
    await admin.models.upsert.mutate(route("gpt-4o-mini"));
    await admin.models.upsert.mutate(route("OpenAI"));
    const ids = await modelIds(a);
    expect(ids).toEqual(expect.arrayContaining(["auto", "gpt-4o-mini", "OpenAI", "openai", "openai/gpt-4o-mini"]));
    expect(new Set(ids).size).toBe(ids.length);
    await admin.models.delete.mutate({ name: "gpt-4o-mini" });
    await admin.models.delete.mutate({ name: "OpenAI" });
  });
});

describe("providers.create and providers.update refuse a route's name", () => {
  it("a route's name, a name routes use as `name/…`, or `auto`/`switchboard`: 409, nothing saved", async () => {
    const admin = a.client(root);
    await admin.models.upsert.mutate(route("fast"));
    await admin.models.upsert.mutate(route("acme/large"));
    for (const [name, message] of [
      ["fast", "The name 'fast' is a model route's; choose another"],
      ["acme", "The model route 'acme/large' would read as a model of a provider named 'acme'"],
      ["auto", "The name 'auto' is the default model's; choose another"],
      ["switchboard", "The name 'switchboard' is the default model's; choose another"],
    ] as const) {
      const before = await version();
      const res = await trpcMutation(a.url, "providers.create", provider(name), bearer(root));
      expect(res.status, name).toBe(409);
      expect(res.body.error.message).toContain(message);
      expect(res.body.error.data.field).toBe("name");
      expect(await version()).toBe(before);
    }

    const created = await admin.providers.create.mutate(provider("spare"));
    const renamed = await trpcMutation(a.url, "providers.update", { id: created.provider!.id, name: "fast" }, bearer(root));
    expect(renamed.status).toBe(409);
    expect(renamed.body.error.message).toContain("The name 'fast' is a model route's");
    expect((await admin.providers.get.query({ id: created.provider!.id })).name).toBe("spare");

    const ids = await modelIds(a);
    expect(new Set(ids).size).toBe(ids.length);
    await admin.providers.delete.mutate({ id: created.provider!.id });
    await admin.models.delete.mutate({ name: "fast" });
    await admin.models.delete.mutate({ name: "acme/large" });
  });
});

describe("two instances", () => {
  it("a provider and a route created under one name at once on two instances: one wins, the other is a 409", async () => {
    for (const name of ["race-1", "race-2", "race-3"]) {
      const [asProvider, asRoute] = await Promise.all([
        trpcMutation(a.url, "providers.create", provider(name), bearer(root)),
        trpcMutation(b.url, "models.upsert", route(name), bearer(root)),
      ]);
      expect([asProvider.status, asRoute.status].sort(), name).toEqual([200, 409]);
      for (const t of [a, b]) {
        const ids = await modelIds(t);
        expect(ids.filter((id) => id === name), name).toHaveLength(1);
      }
    }
  });
});
