/**
 * The plan of a configuration document against stored providers and routes: an export applied
 * back changes nothing whatever the settings, only what differs is changed, secrets are
 * compared as held, and a move to another host takes the stated secrets with it.
 */
import { ZConfigDocument } from "@switchboard/schema";
import { describe, expect, it } from "vitest";
import { planConfig, providerDocument, routeDocument } from "./config-plan.ts";
import type { ProviderConfig, RouteConfig } from "./config-types.ts";

const at = new Date("2026-12-01T00:00:00Z");
const provider = (over: Partial<ProviderConfig>): ProviderConfig => ({
  id: `id-${over.name ?? "p"}`,
  name: "p",
  kind: "openai-compatible",
  baseUrl: "https://api.example.com/v1",
  apiKey: undefined,
  headers: {},
  timeoutMs: null,
  models: ["m"],
  apiVersion: null,
  healthPath: null,
  source: "api",
  position: 0,
  createdAt: at,
  updatedAt: at,
  ...over,
});
const route = (over: Partial<RouteConfig>): RouteConfig => ({ name: "r", targets: [], inputPricePerMTok: null, outputPricePerMTok: null, cachedInputPricePerMTok: null, cacheTtlSec: null, createdAt: at, updatedAt: at, ...over });

const stored = {
  providers: [
    provider({ name: "template", kind: "template", baseUrl: null, models: ["switchboard-template-1"], source: "env" }),
    provider({ name: "full", kind: "azure-openai", apiKey: "sk-held-0123456789", headers: { "X-Team": "blue" }, timeoutMs: 30_000, apiVersion: "2024-10-21", healthPath: "/health", models: ["a", "b"] }),
    provider({ name: "bare", models: [] }),
  ],
  routes: [
    route({ name: "auto", targets: [{ provider: "template", upstreamModel: "switchboard-template-1", weight: null }] }),
    route({ name: "priced", targets: [{ provider: "full", upstreamModel: "a", weight: 3 }, { provider: "bare", upstreamModel: "x", weight: null }], inputPricePerMTok: 0.5, outputPricePerMTok: 0, cachedInputPricePerMTok: 0.25, cacheTtlSec: 300 }),
  ],
};
/** What config.export answers for `stored`, read back as an import reads it. */
const exported = () => ZConfigDocument.parse({ providers: stored.providers.filter((p) => p.kind !== "template").map(providerDocument), models: stored.routes.map(routeDocument) });

describe("planConfig", () => {
  it("finds nothing to change in an export applied back, pruning or not", () => {
    expect(planConfig(stored, exported(), false)).toEqual({ operations: [], unchanged: 4 });
    expect(planConfig(stored, exported(), true)).toEqual({ operations: [], unchanged: 4 });
  });

  it("changes only the fields that differ, a stated secret only when it differs from the held one", () => {
    const document = exported();
    document.providers[0] = { ...document.providers[0]!, apiKey: "sk-held-0123456789", headers: { "x-team": "blue" }, timeoutMs: undefined };
    document.models[1] = { ...document.models[1]!, outputPricePerMTok: undefined, cacheTtlSec: 60 };
    const plan = planConfig(stored, document, false);
    expect(plan.operations.map(({ action, name, fields }) => [action, name, fields])).toEqual([
      ["update", "full", ["timeoutMs"]],
      ["update", "priced", ["outputPricePerMTok", "cacheTtlSec"]],
    ]);
    document.providers[0] = { ...document.providers[0]!, apiKey: "sk-rotated-0123456789" };
    expect(planConfig(stored, document, false).operations[0]!.fields).toEqual(["timeoutMs", "apiKey"]);
  });

  it("sends the stated secrets with a move (another host or path, or kind), even unchanged; not stated, not sent", () => {
    const document = exported();
    document.providers[0] = { ...document.providers[0]!, baseUrl: "https://elsewhere.example.net/v1", apiKey: "sk-held-0123456789", headers: { "X-Team": "blue" } };
    expect(planConfig(stored, document, false).operations[0]!.fields).toEqual(["baseUrl", "apiKey", "headers"]);
    document.providers[0] = { ...document.providers[0]!, baseUrl: "https://api.example.com/v2" };
    expect(planConfig(stored, document, false).operations[0]!.fields).toEqual(["baseUrl", "apiKey", "headers"]);
    document.providers[0] = { ...exported().providers[0]!, baseUrl: "https://api.example.com/v2" };
    expect(planConfig(stored, document, false).operations[0]!.fields).toEqual(["baseUrl"]);
  });

  it("prunes routes first and providers last, never `auto` or the template; refuses to change the template", () => {
    const plan = planConfig(stored, { providers: [], models: [] }, true);
    expect(plan.operations.map(({ action, kind, name }) => `${action} ${kind} ${name}`)).toEqual(["delete model priced", "delete provider full", "delete provider bare"]);
    expect(() => planConfig(stored, { providers: [{ name: "template", kind: "openai-compatible", baseUrl: "https://x.example", models: [] }], models: [] }, false)).toThrow(/offline template/);
  });
});
