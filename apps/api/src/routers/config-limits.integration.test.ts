/**
 * What the gateway holds always fits one configuration document, and a document always fits
 * the request that carries it: `config.import` takes a body as large as the largest document
 * (413 past it, naming its limit; 1 MB for every other call), and `providers.create` and
 * `models.upsert` stop at the document's limits (CONFIG_DOCUMENT_LIMITS) with a 409 naming
 * the limit — two at once included — so an export is always a document `config.import`
 * takes back.
 */
import { CONFIG_DOCUMENT_LIMITS, CONFIG_IMPORT_BODY_LIMIT_BYTES } from "@switchboard/schema";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer } from "../../test/http.ts";
import { rawRequest } from "../../test/raw-http.ts";

const MB = 1024 * 1024;
const json = { "content-type": "application/json" };

let t: TestApp;
let root: string;

beforeAll(async () => {
  t = await startTestApp();
  root = await t.login();
});
afterAll(async () => {
  await t?.close();
});

async function refusal(call: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  expect(error, "expected a refusal").toBeInstanceOf(TRPCClientError);
  const e = error as TRPCClientError<never>;
  return { code: (e.data as { code?: string } | undefined)?.code, message: e.message };
}

const provider = (name: string) => ({ name, kind: "openai-compatible" as const, baseUrl: "http://127.0.0.1:9/v1", models: ["m"] });

describe("a document as large as one may be", () => {
  it("is taken by config.import past the 1 MB every other call keeps, and refused with 413 naming its limit past it", async () => {
    const providers = Array.from({ length: 150 }, (_, i) => ({
      ...provider(`big-${i}`),
      models: Array.from({ length: 120 }, (_, j) => `vendor/some-rather-long-model-name-${j}-instruct-v1-0613-preview`),
    }));
    const input = { document: { providers, models: [] }, dryRun: true };
    expect(Buffer.byteLength(JSON.stringify(input))).toBeGreaterThan(MB);
    const previewed = await t.client(root).config.import.mutate(input);
    expect(previewed.steps).toHaveLength(150);
    // Called beside other calls, as a page that polls does: the client sends it alone, on its
    // own route (a batch keeps 1 MB).
    const [beside, alongside] = await Promise.all([t.client(root).config.import.mutate(input), t.client(root).providers.list.query()]);
    expect(beside.steps).toHaveLength(150);
    expect(alongside.items.length).toBeGreaterThan(0);
    // Whatever the /v1 routes are set to take (their pool stays as sized for them).
    const small = await startTestApp({ mode: "embedded", env: { OPENAI_MAX_BODY_MB: "1" } });
    try {
      expect((await small.client(await small.login()).config.import.mutate(input)).steps).toHaveLength(150);
    } finally {
      await small.close();
    }

    for (const declareLength of [true, false]) {
      const over = await rawRequest(t.url, { method: "POST", path: "/trpc/config.import", headers: { ...json, ...bearer(root) }, streamBytes: CONFIG_IMPORT_BODY_LIMIT_BYTES + 1, declareLength });
      expect(over.status).toBe(413);
      expect(JSON.parse(over.text).error.message).toBe("Request body too large (limit 16.06 MB)");
    }
    // Past 1 MB only with a valid credential, as on /v1.
    expect((await rawRequest(t.url, { method: "POST", path: "/trpc/config.import", headers: json, streamBytes: 2 * MB })).status).toBe(401);
    // Every other procedure, and config.import batched with another, keeps 1 MB.
    for (const path of ["/trpc/config.export", "/trpc/providers.create", "/trpc/config.import,config.export?batch=1"]) {
      const refused = await rawRequest(t.url, { method: "POST", path, headers: { ...json, ...bearer(root) }, streamBytes: 2 * MB });
      expect(refused.status, path).toBe(413);
      expect(JSON.parse(refused.text).error.message, path).toBe("Request body too large (limit 1 MB)");
    }
  });
});

describe("the gateway holds no more than one document states", () => {
  it("refuses the provider past the limit, two created at once included, and the export applies back", async () => {
    const exported = await t.client(root).config.export.query();
    const room = CONFIG_DOCUMENT_LIMITS.maxProviders - exported.providers.length;
    // Filled up to one short of the limit in one document, then two admins create at once.
    const fill = Array.from({ length: room - 1 }, (_, i) => provider(`fill-${i}`));
    await t.client(root).config.import.mutate({ document: { providers: [...exported.providers, ...fill], models: exported.models } });
    const racing = await Promise.allSettled([t.client(root).providers.create.mutate(provider("race-a")), t.client(root).providers.create.mutate(provider("race-b"))]);
    expect(racing.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = await refusal(t.client(root).providers.create.mutate(provider("one-too-many")));
    expect(refused.code).toBe("CONFLICT");
    expect(refused.message).toContain(`at most ${CONFIG_DOCUMENT_LIMITS.maxProviders} providers`);
    const lost = racing.find((r) => r.status === "rejected")!;
    expect(((lost as PromiseRejectedResult).reason as Error).message).toContain(`at most ${CONFIG_DOCUMENT_LIMITS.maxProviders} providers`);

    // Editing one at the limit is still allowed; so is applying the export back.
    const full = await t.client(root).config.export.query();
    expect(full.providers).toHaveLength(CONFIG_DOCUMENT_LIMITS.maxProviders);
    const again = await t.client(root).config.import.mutate({ document: full, dryRun: true });
    expect(again.steps).toEqual([]);
    // A document naming one more (without pruning the rest) is refused whole.
    const over = await refusal(t.client(root).config.import.mutate({ document: { providers: [provider("extra")], models: [] } }));
    expect(over.code).toBe("CONFLICT");
    // Pruning, it replaces them: counted once the whole document is applied.
    const swapped = await t.client(root).config.import.mutate({
      document: { providers: [...full.providers.slice(1), provider("extra")], models: full.models },
      prune: true,
      dryRun: true,
    });
    expect(swapped.steps.map((s) => `${s.action} ${s.name}`)).toEqual(expect.arrayContaining(["create extra", `delete ${full.providers[0]!.name}`]));
  });

  it("refuses the route past the limit, but not a change to one that exists", async () => {
    const exported = await t.client(root).config.export.query();
    const target = { provider: exported.providers[0]!.name, upstreamModel: "m" };
    const room = CONFIG_DOCUMENT_LIMITS.maxModels - exported.models.length;
    const fill = Array.from({ length: room }, (_, i) => ({ name: `route-${i}`, targets: [target] }));
    await t.client(root).config.import.mutate({ document: { providers: exported.providers, models: [...exported.models, ...fill] } });

    const refused = await refusal(t.client(root).models.upsert.mutate({ name: "one-route-too-many", targets: [target] }));
    expect(refused.code).toBe("CONFLICT");
    expect(refused.message).toContain(`at most ${CONFIG_DOCUMENT_LIMITS.maxModels} routes`);
    await t.client(root).models.upsert.mutate({ name: "route-0", targets: [target], inputPricePerMTok: 1 });

    const full = await t.client(root).config.export.query();
    expect(full.models).toHaveLength(CONFIG_DOCUMENT_LIMITS.maxModels);
    expect((await t.client(root).config.import.mutate({ document: full, dryRun: true })).steps).toEqual([]);
  });
});
