/**
 * Providers and model routes as live configuration, through the wire: seeding from the
 * environment, create/update/delete/test, routes with weights and prices, secrets sealed
 * at rest and masked in answers, and every kind of bad input refused with nothing saved.
 */
import { createServer, type Server } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { anthropicError, startFakeAnthropic, type FakeAnthropicServer } from "../../test/fake-anthropic-server.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../test/upstreams.ts";

const SECRET = "sk-live-THIS-IS-PLAINTEXT-0123456789-a1b2";

let t: TestApp;

/** Listens on a free loopback port; answers the server's base URL. */
async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
let up: Upstreams<"beta">;
let extra: FakeOpenAIServer;
let claude: FakeAnthropicServer;
let root: string;

beforeAll(async () => {
  up = await startUpstreams(["beta"]);
  extra = await startFakeOpenAI({ name: "groq", defaultBehavior: { kind: "ok", content: "from groq" } });
  claude = await startFakeAnthropic({ apiKey: "sk-ant-good-key-000000" });
  t = await startTestApp({ env: up.env });
  root = await t.login();
});
afterEach(() => up.reset());
afterAll(async () => {
  await t?.close();
  await up?.close();
  await extra?.close();
  await claude?.close();
});

const version = async () => (await t.app.deps.db.prisma.gatewayConfig.findUnique({ where: { id: 1 } }))?.version ?? 0;

describe("seeded from the environment on first start", () => {
  it("lists the configured providers under their PROVIDER_ORDER ids and `auto` following PROVIDER_ORDER", async () => {
    const admin = t.client(root);
    const providers = await admin.providers.list.query();
    expect(providers.items.map((p) => [p.name, p.kind, p.source])).toEqual([
      ["beta", "openai-compatible", "env"],
      ["template", "template", "env"],
    ]);
    const models = await admin.models.list.query();
    const auto = models.items.find((m) => m.name === "auto")!;
    expect(auto.isDefault).toBe(true);
    expect(auto.targets.map((x) => x.provider)).toEqual(["beta", "template"]);
  });
});

describe("providers.create / update / test / delete", () => {
  it("creates a provider, keeps its key sealed in the database and masked in every answer", async () => {
    const admin = t.client(root);
    const created = await admin.providers.create.mutate({ name: "groq", kind: "openai-compatible", baseUrl: extra.url, apiKey: SECRET, headers: { "x-team": "blue-team-header-value" }, models: ["llama-3.3-70b"] });
    expect(created.provider?.apiKeyMasked).toBe("sk-…a1b2");
    expect(JSON.stringify(created)).not.toContain("PLAINTEXT");
    expect(created.acknowledgedBy).toBeGreaterThanOrEqual(1);
    expect(created.liveInstances).toBeGreaterThanOrEqual(1);

    const row = await t.app.deps.db.prisma.$queryRaw<Array<Record<string, unknown>>>`SELECT * FROM "Provider" WHERE name = 'groq'`;
    expect(JSON.stringify(row)).not.toContain("PLAINTEXT");
    expect(JSON.stringify(row)).not.toContain("blue-team-header-value");
    const audit = await t.app.deps.db.prisma.configAudit.findMany({ where: { target: "groq" } });
    expect(audit.map((a) => a.action)).toEqual(["provider.create"]);
    expect(audit[0]!.actorEmail).toBe("root@switchboard.test");
    expect(JSON.stringify(audit)).not.toContain("PLAINTEXT");
    expect(JSON.stringify(audit)).not.toContain("blue-team-header-value");

    const listed = await admin.providers.get.query({ id: created.provider!.id });
    expect(listed.apiKeyMasked).toBe("sk-…a1b2");
    expect(listed.headers).toEqual({ "x-team": "…alue" });
  });

  it("providers.test makes one real call; a wrong key is the upstream's 401, not a Switchboard error", async () => {
    const admin = t.client(root);
    const id = (await admin.providers.list.query()).items.find((p) => p.name === "groq")!.id;
    const ok = await admin.providers.test.mutate({ id });
    expect(ok.ok).toBe(true);
    expect(ok.latencyMs).toBeGreaterThanOrEqual(0);
    expect(extra.requests.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(extra.requests.at(-1)?.headers["x-team"]).toBe("blue-team-header-value");

    extra.enqueue({ kind: "status", status: 401, body: JSON.stringify({ error: { message: "Incorrect API key provided", type: "invalid_request_error" } }) });
    const bad = await admin.providers.test.mutate({ id });
    expect(bad).toMatchObject({ ok: false, status: 401 });
    expect(bad.error).toContain("401");
  });

  it("a model route sends traffic to its targets with their upstream model, and /v1/models lists it", async () => {
    const admin = t.client(root);
    const upserted = await admin.models.upsert.mutate({ name: "fast", targets: [{ provider: "groq", upstreamModel: "llama-3.3-70b" }], inputPricePerMTok: 0.59, outputPricePerMTok: 0.79 });
    expect(upserted.model).toMatchObject({ name: "fast", inputPricePerMTok: 0.59, outputPricePerMTok: 0.79, isDefault: false });
    expect(t.app.deps.gateway.priceOf("fast")).toEqual({ inputPerMTok: 0.59, outputPerMTok: 0.79, cachedInputPerMTok: null });

    const user = await t.userWithRole("USER");
    const answer = await t.client(user.token).chat.send.mutate({ message: "hello", model: "fast" });
    expect(answer).toMatchObject({ provider: "groq", content: "from groq" });
    expect(extra.requests.at(-1)?.body.model).toBe("llama-3.3-70b");

    const res = await fetch(`${t.url}/v1/models`, { headers: bearer(user.token) });
    const ids = ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    expect(ids).toContain("auto");
    expect(ids).toContain("fast");
  });

  it("renaming a provider follows into the routes; deleting one that routes use is a 409 listing them", async () => {
    const admin = t.client(root);
    const groq = (await admin.providers.list.query()).items.find((p) => p.name === "groq")!;
    await admin.providers.update.mutate({ id: groq.id, name: "groq-eu", timeoutMs: 5_000 });
    const fast = (await admin.models.list.query()).items.find((m) => m.name === "fast")!;
    expect(fast.targets[0]!.provider).toBe("groq-eu");

    const before = await version();
    const res = await trpcMutation(t.url, "providers.delete", { id: groq.id }, bearer(root));
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain("fast");
    expect(res.body.error.data.routes).toEqual(["fast"]);
    expect(await version()).toBe(before);

    await admin.models.delete.mutate({ name: "fast" });
    const deleted = await admin.providers.delete.mutate({ id: groq.id });
    expect(deleted.provider).toBeNull();
    expect((await admin.providers.list.query()).items.map((p) => p.name)).not.toContain("groq-eu");
  });
});

describe("anthropic kind", () => {
  it("answers through the native Messages API, system prompt translated, usage counted", async () => {
    const admin = t.client(root);
    const created = await admin.providers.create.mutate({ name: "claude", kind: "anthropic", baseUrl: claude.url, apiKey: "sk-ant-good-key-000000", models: ["claude-test"] });
    expect((await admin.providers.test.mutate({ id: created.provider!.id })).ok).toBe(true);
    await admin.models.upsert.mutate({ name: "claude-route", targets: [{ provider: "claude", upstreamModel: "claude-test" }] });
    const user = await t.userWithRole("USER");
    const answer = await t.client(user.token).chat.send.mutate({ message: "hi", model: "claude-route" });
    expect(answer).toMatchObject({ provider: "claude", content: "Hello from the fake Claude", usage: { promptTokens: 15, completionTokens: 5, totalTokens: 20 } });
    expect(claude.requests.at(-1)?.body).toMatchObject({ model: "claude-test", messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });

    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...bearer(user.token), "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-route", stream: true, messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }] }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain("Hello ");
    expect(claude.requests.at(-1)?.body).toMatchObject({ system: "be brief", stream: true });
  });

  it("tools and tool calls survive the translation both ways, whole answers and streams", async () => {
    const user = await t.userWithRole("USER");
    const tools = [{ type: "function", function: { name: "get_weather", description: "Weather by city", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const post = (body: Record<string, unknown>) =>
      fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(user.token), "content-type": "application/json" }, body: JSON.stringify(body) });

    const whole = await post({ model: "claude-route", tools, tool_choice: "required", messages: [{ role: "user", content: "weather in Paris?" }] });
    const answer = (await whole.json()) as { choices: Array<{ finish_reason: string; message: { tool_calls: Array<{ id: string; function: { name: string; arguments: string } }> } }> };
    expect(whole.status, JSON.stringify(answer)).toBe(200);
    expect(answer.choices[0]!.finish_reason).toBe("tool_calls");
    expect(answer.choices[0]!.message.tool_calls[0]).toMatchObject({ id: "toolu_01", function: { name: "get_weather" } });
    expect(JSON.parse(answer.choices[0]!.message.tool_calls[0]!.function.arguments)).toEqual({ city: "Paris" });
    expect(claude.requests.at(-1)?.body).toMatchObject({
      tools: [{ name: "get_weather", description: "Weather by city", input_schema: { type: "object" } }],
      tool_choice: { type: "any" },
    });

    // The tool's result goes back as a tool_result block after the assistant's tool_use.
    await post({
      model: "claude-route",
      tools,
      messages: [
        { role: "user", content: "weather in Paris?" },
        { role: "assistant", content: null, tool_calls: [{ id: "toolu_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
        { role: "tool", tool_call_id: "toolu_01", content: "sunny, 21C" },
      ],
    });
    expect(claude.requests.at(-1)?.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "weather in Paris?" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "sunny, 21C" }] },
    ]);

    const streamed = await post({ model: "claude-route", stream: true, tools, messages: [{ role: "user", content: "weather in Paris?" }] });
    const events = (await streamed.text()).split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)) as { choices: Array<{ delta: { tool_calls?: Array<{ id?: string; function: { name?: string; arguments: string } }> }; finish_reason: string | null }> });
    const calls = events.flatMap((e) => e.choices.flatMap((c) => c.delta.tool_calls ?? []));
    expect(calls[0]).toMatchObject({ id: "toolu_01", function: { name: "get_weather" } });
    expect(JSON.parse(calls.map((c) => c.function.arguments).join(""))).toEqual({ city: "Paris" });
    expect(events.flatMap((e) => e.choices.map((c) => c.finish_reason)).filter(Boolean)).toEqual(["tool_calls"]);
  });

  it("the Responses API reaches Anthropic the same way: instructions as its system prompt, tool_use back as a function_call item", async () => {
    const user = await t.userWithRole("USER");
    const res = await fetch(`${t.url}/v1/responses`, {
      method: "POST",
      headers: { ...bearer(user.token), "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-route", instructions: "be brief", input: "weather in Paris?", tools: [{ type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }] }),
    });
    const response = (await res.json()) as { status: string; output: Array<{ type: string; call_id: string; name: string; arguments: string }> };
    expect(res.status, JSON.stringify(response)).toBe(200);
    expect(response.status).toBe("completed");
    expect(response.output).toEqual([expect.objectContaining({ type: "function_call", call_id: "toolu_01", name: "get_weather" })]);
    expect(JSON.parse(response.output[0]!.arguments)).toEqual({ city: "Paris" });
    expect(claude.requests.at(-1)?.body).toMatchObject({ system: "be brief", tools: [{ name: "get_weather", input_schema: { type: "object" } }] });
  });

  it("Anthropic's refusal of the request reaches a /v1 caller as Anthropic worded it, with its type, and is not retried elsewhere", async () => {
    const user = await t.userWithRole("USER");
    const post = (body: Record<string, unknown>) =>
      fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(user.token), "content-type": "application/json" }, body: JSON.stringify(body) });
    const before = claude.requests.length;
    claude.enqueue({ kind: "status", status: 400, body: anthropicError("invalid_request_error", "max_tokens: 20000 > 8192, which is the maximum allowed") });
    const refused = await post({ model: "claude-route", max_tokens: 20000, messages: [{ role: "user", content: "hi" }] });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: { message: "max_tokens: 20000 > 8192, which is the maximum allowed", type: "invalid_request_error", param: null, code: null } });
    expect(claude.requests.length).toBe(before + 1);

    // An unknown model, said in Anthropic's error body, is the caller's 404 too (a bare 404 would be the provider's).
    claude.enqueue({ kind: "status", status: 404, body: anthropicError("not_found_error", "model: claude-nope") });
    const streamed = await post({ model: "claude-route", stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(streamed.status).toBe(404);
    expect(await streamed.json()).toEqual({ error: { message: "model: claude-nope", type: "not_found_error", param: null, code: null } });
  });

  it("a wrong Anthropic key shows as the upstream's 401 in providers.test", async () => {
    const admin = t.client(root);
    const created = await admin.providers.create.mutate({ name: "claude-bad", kind: "anthropic", baseUrl: claude.url, apiKey: "sk-ant-wrong-key-111111", models: ["claude-test"] });
    const result = await admin.providers.test.mutate({ id: created.provider!.id });
    expect(result).toMatchObject({ ok: false, status: 401 });
    expect(result.error).toContain("401");
    await admin.providers.delete.mutate({ id: created.provider!.id });
  });
});

describe("bad input: 400/409 naming the field, nothing saved", () => {
  it.each([
    ["malformed base URL", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "not a url", models: [] }, 400, "baseUrl"],
    ["ftp base URL", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "ftp://example.com", models: [] }, 400, "baseUrl"],
    ["bad name", "providers.create", { name: "Has Spaces", kind: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1", models: [] }, 400, "name"],
    ["unknown kind", "providers.create", { name: "x1", kind: "mystery", baseUrl: "http://127.0.0.1:1/v1", models: [] }, 400, "kind"],
    ["duplicate name", "providers.create", { name: "beta", kind: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1", models: [] }, 409, "name"],
    ["route to a missing provider", "models.upsert", { name: "m1", targets: [{ provider: "nobody", upstreamModel: "x" }] }, 400, "targets.0.provider"],
    ["weight 0", "models.upsert", { name: "m1", targets: [{ provider: "beta", upstreamModel: "x", weight: 0 }] }, 400, "targets"],
    ["negative weight", "models.upsert", { name: "m1", targets: [{ provider: "beta", upstreamModel: "x", weight: -1 }] }, 400, "targets"],
    ["no targets", "models.upsert", { name: "m1", targets: [] }, 400, "targets"],
    ["deleting auto", "models.delete", { name: "auto" }, 400, "name"],
    // Values HTTP cannot carry were saved, applied everywhere, and then failed every call.
    ["an emoji in the key", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1", apiKey: "sk-🙂", models: [] }, 400, "apiKey"],
    ["a control character in a header", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1", headers: { "x-org": "a\u0001b" }, models: [] }, 400, "headers"],
    ["a header the gateway sets per request", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1", headers: { "Content-Length": "1" }, models: [] }, 400, "headers"],
    // Each endpoint's path is appended to the base URL: it went into the query, or was dropped after a fragment.
    ["a base URL with a query", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1?tenant=a", models: [] }, 400, "baseUrl"],
    ["a base URL with a fragment", "providers.create", { name: "x1", kind: "azure-openai", baseUrl: "http://127.0.0.1:1/#x", models: [] }, 400, "baseUrl"],
    ["one header named twice in two cases", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1", headers: { "X-Org": "a", "x-org": "b" }, models: [] }, 400, "headers"],
    // Where no model provider answers but the machine's credentials do, however the address is spelt.
    ["the cloud metadata address", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://169.254.169.254/latest/meta-data", models: [] }, 400, "baseUrl"],
    ["the metadata address as one number", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://0xa9fea9fe/", models: [] }, 400, "baseUrl"],
    ["an IPv4-mapped link-local address", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://[::ffff:169.254.169.254]/", models: [] }, 400, "baseUrl"],
    ["a link-local IPv6 address", "providers.create", { name: "x1", kind: "ollama", baseUrl: "http://[fe80::1]:11434", models: [] }, 400, "baseUrl"],
    ["GCP's metadata name", "providers.create", { name: "x1", kind: "openai-compatible", baseUrl: "http://metadata.google.internal./computeMetadata/v1", headers: { "metadata-flavor": "Google" }, healthPath: "/instance/service-accounts/default/token", models: [] }, 400, "baseUrl"],
    ["a document moving a provider there", "config.import", { document: { providers: [{ name: "beta", kind: "openai-compatible", baseUrl: "http://169.254.169.254/v1", models: ["m"] }], models: [] } }, 400, "document"],
  ])("%s", async (_label, path, input, status, field) => {
    const before = await version();
    const res = await trpcMutation(t.url, path, input, bearer(root));
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    const data = res.body.error.data;
    const named = [data.field, ...Object.keys(data.zodError?.fieldErrors ?? {})].filter(Boolean).join(",") + " " + res.body.error.message;
    expect(named).toContain(field.split(".")[0]);
    expect(await version()).toBe(before);
  });

  it("an unknown id is a 404 for get, update, delete and test", async () => {
    const id = "00000000-0000-4000-8000-000000000000";
    expect((await trpcQuery(t.url, "providers.get", { id }, bearer(root))).status).toBe(404);
    for (const path of ["providers.update", "providers.delete", "providers.test"]) {
      expect((await trpcMutation(t.url, path, { id }, bearer(root))).status, path).toBe(404);
    }
  });
});

describe("roles", () => {
  it("ADMIN reads providers but cannot change them; USER lists models only", async () => {
    const admin = await t.userWithRole("ADMIN");
    const user = await t.userWithRole("USER");
    expect((await trpcQuery(t.url, "providers.list", undefined, bearer(admin.token))).status).toBe(200);
    expect((await trpcMutation(t.url, "providers.create", { name: "x2", kind: "ollama", baseUrl: "http://127.0.0.1:1", models: [] }, bearer(admin.token))).status).toBe(403);
    expect((await trpcMutation(t.url, "models.upsert", { name: "m2", targets: [{ provider: "beta", upstreamModel: "x" }] }, bearer(admin.token))).status).toBe(403);
    expect((await trpcQuery(t.url, "providers.list", undefined, bearer(user.token))).status).toBe(403);
    expect((await trpcQuery(t.url, "models.list", undefined, bearer(user.token))).status).toBe(200);
  });
});

describe("health", () => {
  it("probes every provider in the background: state and latency in providers.list and /metrics", async () => {
    const admin = t.client(root);
    // A host that answers nothing: saved anyway (checked for form only), reported unreachable.
    const down = await admin.providers.create.mutate({ name: "down", kind: "ollama", baseUrl: "http://127.0.0.1:9", models: ["llama3"] });
    let items = (await admin.providers.list.query()).items;
    for (let i = 0; i < 100 && items.some((p) => p.health.state === "unknown"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      items = (await admin.providers.list.query()).items;
    }
    expect(items.find((p) => p.name === "beta")?.health).toMatchObject({ state: "reachable", lastError: null });
    expect(items.find((p) => p.name === "down")?.health).toMatchObject({ state: "unreachable", latencyMs: null });
    expect(items.find((p) => p.name === "down")?.health.lastError).toBeTruthy();
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_provider_reachable\{provider="beta"\} 1/);
    expect(metrics).toMatch(/switchboard_provider_reachable\{provider="down"\} 0/);
    expect(metrics).toMatch(/switchboard_provider_probe_latency_ms\{provider="beta"\} \d+/);
    await admin.providers.delete.mutate({ id: down.provider!.id });
  });
});

describe("health probes and redirects", () => {
  it("sends what the calls send: a configured Authorization replaces the one built from the API key, on the probe as on a call", async () => {
    const seen: Array<{ method: string | undefined; authorization: string | undefined; org: string | undefined }> = [];
    const host = createServer((req, res) => {
      seen.push({ method: req.method, authorization: req.headers.authorization, org: req.headers["x-org"] as string | undefined });
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(req.method === "POST" ? JSON.stringify({ id: "c", object: "chat.completion", created: 0, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }) : "{}");
    });
    const hostUrl = await listen(host);
    const admin = t.client(root);
    try {
      // Set as "Authorization" (another case than the key's): one header either way.
      const created = await admin.providers.create.mutate({ name: "fronted", kind: "openai-compatible", baseUrl: `${hostUrl}/v1`, models: ["m"], apiKey: SECRET, headers: { Authorization: "Bearer gateway-token", "X-Org": "blue" } });
      for (let i = 0; i < 100 && !seen.some((r) => r.method === "GET"); i++) await new Promise((r) => setTimeout(r, 50));
      expect((await admin.providers.test.mutate({ id: created.provider!.id })).ok).toBe(true);
      const probe = seen.find((r) => r.method === "GET");
      const call = seen.find((r) => r.method === "POST");
      expect(call).toEqual({ method: "POST", authorization: "Bearer gateway-token", org: "blue" });
      expect(probe).toEqual({ method: "GET", authorization: "Bearer gateway-token", org: "blue" });
      await admin.providers.delete.mutate({ id: created.provider!.id });
    } finally {
      host.close();
    }
  });

  it("never follows a redirect: a healthPath that redirects elsewhere sends the provider's key and headers nowhere but its own host", async () => {
    const received: Array<Record<string, string | string[] | undefined>> = [];
    const collector = createServer((req, res) => {
      received.push(req.headers);
      res.end("{}");
    });
    const collectorUrl = await listen(collector);
    // The provider's own host: every path redirects to the collector, as an open redirect would.
    const redirecting = createServer((req, res) => {
      res.writeHead(302, { location: `${collectorUrl}/steal` }).end();
    });
    const hostUrl = await listen(redirecting);
    const admin = t.client(root);
    try {
      const created = await Promise.all([
        admin.providers.create.mutate({ name: "redirected", kind: "openai-compatible", baseUrl: `${hostUrl}/v1`, models: ["m"], apiKey: SECRET, headers: { "x-api-key": SECRET }, healthPath: "/go" }),
        admin.providers.create.mutate({ name: "redirected-azure", kind: "azure-openai", baseUrl: hostUrl, models: ["m"], apiKey: SECRET, healthPath: "/go" }),
      ]);
      let items = (await admin.providers.list.query()).items;
      for (let i = 0; i < 100 && items.some((p) => p.name.startsWith("redirected") && p.health.state === "unknown"); i++) {
        await new Promise((r) => setTimeout(r, 100));
        items = (await admin.providers.list.query()).items;
      }
      // Reachable (it answered), the redirect named, and the collector never asked.
      for (const name of ["redirected", "redirected-azure"]) expect(items.find((p) => p.name === name)?.health).toMatchObject({ state: "reachable", lastError: "HTTP 302" });
      expect(received).toEqual([]);
      for (const c of created) await admin.providers.delete.mutate({ id: c.provider!.id });
    } finally {
      collector.close();
      redirecting.close();
    }
  });
});

describe("while frozen", () => {
  it("ADMIN still reads providers and models; changes and USER reads answer 503", async () => {
    const admin = await t.userWithRole("ADMIN");
    const user = await t.userWithRole("USER");
    await t.client(root).emergency.freeze.mutate({ reason: "config freeze test" });
    try {
      expect((await trpcQuery(t.url, "providers.list", undefined, bearer(admin.token))).status).toBe(200);
      expect((await trpcQuery(t.url, "models.list", undefined, bearer(admin.token))).status).toBe(200);
      expect((await trpcQuery(t.url, "models.list", undefined, bearer(user.token))).status).toBe(503);
      const refused = await trpcMutation(t.url, "models.upsert", { name: "m3", targets: [{ provider: "beta", upstreamModel: "x" }] }, bearer(root));
      expect(refused.status).toBe(503);
    } finally {
      await t.client(root).emergency.unfreeze.mutate({ reason: "done" });
    }
  });
});
