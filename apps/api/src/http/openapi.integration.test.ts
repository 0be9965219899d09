/**
 * GET /openapi.json on a live server: a valid OpenAPI 3.1 document (checked by
 * @readme/openapi-parser) listing every REST route, each described from its own
 * declaration with the zod schemas that validate it.
 */
import { compileErrors, validate } from "@readme/openapi-parser";
import { LOG_EXPORT_HEADERS, ZEmergencyFreezeInput, ZOpenAIChatRequest } from "@switchboard/schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { undocumentedRoutes } from "./openapi.ts";

type Operation = { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; responses: Record<string, unknown>; security?: unknown[] };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

let t: TestApp;
let doc: Document;

beforeAll(async () => {
  t = await startTestApp({ mode: "embedded" });
  const res = await fetch(`${t.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  doc = (await res.json()) as Document;
});

afterAll(async () => {
  await t?.close();
});

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? "" : compileErrors(result)).toBe("");
  });

  it("lists the gateway, emergency, ops and legacy routes, and nothing of /trpc or the SPA", () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "GET /openapi.json",
        "GET /v1/models",
        "POST /v1/chat/completions",
        "GET /api/admin/emergency/status",
        "POST /api/admin/emergency/freeze",
        "POST /api/admin/emergency/unfreeze",
      ]),
    );
    expect(operations.filter((o) => /\/trpc|\/\*|HEAD |OPTIONS /.test(o))).toEqual([]);
  });

  it("every route describes itself (config.openapi)", () => {
    expect(undocumentedRoutes(doc as never)).toEqual([]);
  });

  it("request bodies are the zod schemas that validate them", () => {
    const body = (path: string, method = "post") => doc.paths[path]![method]!.requestBody!.content["application/json"]!.schema;
    const { $schema: _a, ...chat } = z.toJSONSchema(ZOpenAIChatRequest, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    expect(body("/v1/chat/completions")).toEqual(chat);
    expect(body("/api/admin/emergency/freeze").required).toContain("reason");
    expect(ZEmergencyFreezeInput.safeParse({ reason: "drill" }).success).toBe(true);
    expect(doc.paths["/v1/chat/completions"]!.post!.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/health"]!.get!.security).toEqual([]);
  });

  it("names the headers a client reads before a CSV export's rows: how many, and whether it was cut", () => {
    const ok = doc.paths["/api/logs/export.csv"]!.get!.responses["200"] as { headers?: Record<string, { description: string }>; content: Record<string, unknown> };
    expect(Object.keys(ok.headers ?? {})).toEqual([LOG_EXPORT_HEADERS.rows, LOG_EXPORT_HEADERS.truncated]);
    expect(ok.headers![LOG_EXPORT_HEADERS.truncated]!.description).toMatch(/^"true" when more rows match than the cap/);
    expect(Object.keys(ok.content)).toEqual(["text/csv"]);
  });
});
