/**
 * POST /v1/embeddings through a model route (models.upsert): the route's targets in order,
 * each sent its own upstream model, falling back only to the same upstream model on another
 * provider (vectors of different models are not comparable); API keys limited to the route's
 * name; names that are no route keep their older meaning.
 */
import OpenAI, { APIError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, loggedRow, trpcMutation } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";

let t: TestApp;
let up: Upstreams<"beta" | "openai" | "ollama">;
let user: { id: string; token: string };
let root: string;
let sdk: OpenAI;

const SMALL = "text-embedding-3-small";
const NOMIC = "nomic-embed-text";

beforeAll(async () => {
  up = await startUpstreams(["beta", "openai", "ollama"]);
  t = await startTestApp({ env: { ...up.env, CIRCUIT_FAILURE_THRESHOLD: "1000", CHAT_RATE_LIMIT_PER_MIN: "100" }, appOptions: { requestLogFlushMs: 100 } });
  root = await t.login();
  const admin = t.client(root);
  // One model on two providers, then another model: what a fallback must never reach.
  await admin.models.upsert.mutate({
    name: "embed-small",
    targets: [
      { provider: "beta", upstreamModel: SMALL },
      { provider: "openai", upstreamModel: SMALL },
      { provider: "ollama", upstreamModel: NOMIC },
    ],
    inputPricePerMTok: 0.02,
  });
  await admin.models.upsert.mutate({ name: "embed-local", targets: [{ provider: "ollama", upstreamModel: NOMIC }, { provider: "openai", upstreamModel: SMALL }] });
  user = await t.userWithRole("USER");
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: user.token, maxRetries: 0 });
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

const embed = (model: string, token = user.token) =>
  fetch(`${t.url}/v1/embeddings`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify({ model, input: "alpha", encoding_format: "float" }) });

const modelsSent = (fake: { requests: Array<{ raw: string }> }) => fake.requests.map((r) => (JSON.parse(r.raw) as { model: string }).model);

const logRow = (requestId: string) => loggedRow(t.url, user.token, requestId);

describe("embeddings through a model route", () => {
  it("a route's name embeds through its first target with that target's upstream model; logged and priced under the route", async () => {
    const { data, response } = await sdk.embeddings.create({ model: "embed-small", input: ["alpha", "beta gamma"] }).withResponse();
    expect(data.model).toBe(SMALL);
    expect(data.data).toHaveLength(2);
    expect(response.headers.get("x-switchboard-provider")).toBe("beta");
    expect(response.headers.get("x-switchboard-attempts")).toBe("beta:success");
    expect(modelsSent(up.fakes.beta)).toEqual([SMALL]);
    expect(up.fakes.openai.requests).toHaveLength(0);

    const row = await logRow(response.headers.get("x-request-id")!);
    expect(row).toMatchObject({ route: "/v1/embeddings", model: "embed-small", provider: "beta", upstreamModel: SMALL, status: 200, promptTokens: 4 });
    expect(row["costUsd"]).toBeGreaterThan(0);
    // Listed once, like any route.
    const listed = (await sdk.models.list()).data.filter((m) => m.id === "embed-small");
    expect(listed).toHaveLength(1);
  });

  it("a 500 falls back to the same model on the route's next provider", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500 });
    const res = await embed("embed-small");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(SMALL);
    expect(res.headers.get("x-switchboard-attempts")).toBe("beta:http_error,openai:success");
    expect(modelsSent(up.fakes.openai)).toEqual([SMALL]);
    expect(up.fakes.ollama.requests).toHaveLength(0);
  });

  it("an answer that does not match the inputs is malformed: the same model on the next provider answers", async () => {
    const list = (data: unknown[]) => ({ kind: "status" as const, status: 200, body: JSON.stringify({ object: "list", data, model: SMALL }) });
    const wrong = [
      list([]), // no item for the one input
      list([{ object: "embedding", index: 5, embedding: [0.1] }]), // an index past the inputs
      list([{ object: "embedding", index: 0, embedding: "not a vector" }]), // text where floats were asked for
    ];
    for (const answer of wrong) {
      up.fakes.beta.enqueue(answer);
      const res = await embed("embed-small");
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data: Array<{ index: number; embedding: number[] }> };
      expect(body.data).toEqual([{ object: "embedding", index: 0, embedding: [1, 0.5, 0.5] }]);
      expect(res.headers.get("x-switchboard-attempts")).toBe("beta:malformed,openai:success");
    }
  });

  it("floats where the SDK asked for base64 (a server that ignores the format) reach it as base64, decoded back to the same vector", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 200, body: JSON.stringify({ object: "list", data: [{ object: "embedding", embedding: [0.25, -1.5] }], model: SMALL }) });
    const { data, response } = await sdk.embeddings.create({ model: "embed-small", input: "alpha" }).withResponse();
    expect(data.data).toEqual([{ object: "embedding", index: 0, embedding: [0.25, -1.5] }]);
    expect(response.headers.get("x-switchboard-attempts")).toBe("beta:success");
    expect((JSON.parse(up.fakes.beta.requests.at(-1)!.raw) as { encoding_format?: string }).encoding_format).toBe("base64");
  });

  it("never falls back to another model: the failure is the answer, saying why", async () => {
    up.fakes.beta.enqueue({ kind: "status", status: 500 });
    up.fakes.openai.enqueue({ kind: "status", status: 500 });
    const res = await embed("embed-small");
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(res.status, JSON.stringify(body)).toBe(502);
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).toContain(`no other target serves ${SMALL}`);
    expect(body.error.message).toContain(`(ollama/${NOMIC}) are not tried for embeddings, since vectors from different models are not comparable`);
    expect(up.fakes.ollama.requests).toHaveLength(0);

    // A route whose first model is on one provider only: its failure ends there.
    up.fakes.ollama.enqueue({ kind: "status", status: 500 });
    const openaiCalls = up.fakes.openai.requests.length;
    const local = await embed("embed-local");
    expect(local.status).toBe(502);
    expect(((await local.json()) as { error: { message: string } }).error.message).toContain(`(openai/${SMALL}) are not tried for embeddings`);
    expect(up.fakes.openai.requests).toHaveLength(openaiCalls);
  });

  it("a frozen first target still fixes the model: the freeze is the answer, not another model", async () => {
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "ollama leaks", scope: "provider:ollama" }, bearer(root))).status).toBe(200);
    try {
      const res = await embed("embed-local");
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain("ollama leaks");
      expect(up.fakes.openai.requests).toHaveLength(0);
      expect(up.fakes.ollama.requests).toHaveLength(0);
    } finally {
      await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root));
    }
  });

  it("an API key limited to the route's name may use it; one limited to other names may not", async () => {
    const keys = t.client(user.token).keys;
    const routeOnly = await keys.create.mutate({ name: "embed route only", models: ["embed-small"] });
    const ok = await embed("embed-small", routeOnly.key);
    expect(ok.status).toBe(200);
    expect(modelsSent(up.fakes.beta)).toEqual([SMALL]);
    expect((await embed(`openai/${SMALL}`, routeOnly.key)).status).toBe(403);

    const modelOnly = await keys.create.mutate({ name: "upstream model only", models: [SMALL, "embed-local"] });
    const refused = await embed("embed-small", modelOnly.key);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('may not use model "embed-small"');
    expect(up.fakes.beta.requests).toHaveLength(1);
  });

  it("a name that is no route is sent as is, and an upstream's unknown model is still a 404", async () => {
    up.fakes.beta.enqueue({
      kind: "status",
      status: 404,
      body: JSON.stringify({ error: { message: "The model `no-such-embedder` does not exist", type: "invalid_request_error", param: null, code: "model_not_found" } }),
    });
    const error = (await sdk.embeddings.create({ model: "no-such-embedder", input: "x" }).catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(404);
    expect(error.code).toBe("model_not_found");
    expect(modelsSent(up.fakes.beta)).toEqual(["no-such-embedder"]);
    expect(up.fakes.openai.requests).toHaveLength(0);
    // `auto` stays refused: its targets are the default chat models.
    expect((await embed("auto")).status).toBe(400);
  });
});
