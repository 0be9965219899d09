/**
 * GET /openapi.json: an OpenAPI 3.1 document of every REST route, built from the routes
 * themselves. An `onRoute` hook (registered before any route) records each route; a route
 * describes itself in its own options as `config.openapi`, with the same zod schemas that
 * validate its input or shape its answer, turned into JSON Schema by zod's `z.toJSONSchema`.
 *
 * How a new route gets into the document — nothing to edit here:
 *
 *   app.post("/api/thing", {
 *     config: {
 *       feature: "chat",
 *       openapi: {
 *         summary: "Create a thing",
 *         tags: ["legacy"],
 *         auth: "bearer",                     // "none" for public routes
 *         body: ZThingInput,                  // zod: request body (also query, params)
 *         response: ZThing,                   // zod: the 200 answer
 *         responses: { 404: "No such thing" }, // other statuses, a description (or {description, schema})
 *       },
 *     },
 *   }, handler);
 *
 * A route without `config.openapi` is still listed (path and method, generic answers), and
 * a test fails until it is described. tRPC procedures (/trpc) and the SPA's files are not
 * REST routes and stay out.
 */
import type { FastifyInstance, RouteOptions } from "fastify";
import { z } from "zod";

export interface RouteResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** Default application/json; e.g. "text/event-stream" or "text/plain". */
  contentType?: string;
}

export interface RouteDoc {
  summary: string;
  description?: string;
  tags?: string[];
  /** Who may call: "none" (public) or "bearer" (access token or API key, or the SPA cookie). */
  auth?: "none" | "bearer";
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** The 200 answer's JSON body. */
  response?: z.ZodType;
  /** Content type of the 200 answer when it is not JSON (the schema then describes nothing). */
  responseContentType?: string;
  /** Headers of the 200 answer a client reads, by name: what each says. */
  responseHeaders?: Record<string, string>;
  responses?: Record<number, string | RouteResponseDoc>;
  /** Name of the path parameter a trailing `*` stands for (default "path"). */
  wildcardParam?: string;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** This route's entry in GET /openapi.json. */
    openapi?: RouteDoc;
  }
}

interface RecordedRoute {
  method: string;
  url: string;
  doc?: RouteDoc;
}

/** Paths that are not REST routes of the API. */
const NOT_REST = [/^\/trpc(\/|$)/, /^\/\*$/, /^\/ws(\/|$)/];

export interface OpenApiInfo {
  version: string;
}

/** Call before any route is registered: records the routes, and serves the document. */
export function registerOpenApi(app: FastifyInstance, info: OpenApiInfo): void {
  const routes: RecordedRoute[] = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    const url = route.url;
    if (!url || NOT_REST.some((pattern) => pattern.test(url))) return;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== "HEAD" && m !== "OPTIONS");
    const doc = (route.config as { openapi?: RouteDoc } | undefined)?.openapi;
    for (const method of methods) routes.push({ method: method.toLowerCase(), url, doc });
  });

  let document: object | undefined;
  app.get(
    "/openapi.json",
    {
      config: {
        feature: "ops",
        openapi: { summary: "This OpenAPI document", tags: ["ops"], auth: "none", responses: {} },
      },
    },
    async (_request, reply) => {
      document ??= buildDocument(routes, info);
      return reply.header("cache-control", "public, max-age=60").send(document);
    },
  );
}

/** Route URLs that carry no description yet (the test lists them). */
export function undocumentedRoutes(document: { paths: Record<string, Record<string, { "x-undocumented"?: boolean }>> }): string[] {
  return Object.entries(document.paths).flatMap(([path, ops]) =>
    Object.entries(ops).filter(([, op]) => op["x-undocumented"]).map(([method]) => `${method.toUpperCase()} ${path}`),
  );
}

const jsonSchema = (schema: z.ZodType, io: "input" | "output") => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
  return rest;
};

const errorBody = {
  type: "object",
  description: "REST errors are {error:{code, message, ...}}; /v1 errors follow OpenAI's shape {error:{message, type, code}}.",
  properties: { error: { type: "object", properties: { code: { type: ["string", "null"] }, message: { type: "string" } } } },
};

/** Fastify's `:name` and trailing `*` as OpenAPI's `{name}`. */
const openApiPath = (url: string, wildcard = "path") => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\/\*$/, `/{${wildcard}}`);

function parametersOf(schema: z.ZodType | undefined, where: "query" | "path", url: string) {
  const names = where === "path" ? [...url.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!) : [];
  const properties = schema ? ((jsonSchema(schema, "input").properties ?? {}) as Record<string, object>) : {};
  const required = new Set(schema ? ((jsonSchema(schema, "input").required ?? []) as string[]) : []);
  const all = new Set([...names, ...Object.keys(properties)]);
  return [...all].map((name) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    schema: properties[name] ?? { type: "string" },
  }));
}

function operationOf(route: RecordedRoute) {
  const doc = route.doc;
  const responses: Record<string, object> = {};
  if (doc?.response) {
    responses["200"] = { description: "Success", content: { "application/json": { schema: jsonSchema(doc.response, "output") } } };
  } else if (doc?.responseContentType) {
    responses["200"] = { description: "Success", content: { [doc.responseContentType]: { schema: { type: "string" } } } };
  } else {
    responses["200"] = { description: "Success", content: { "application/json": { schema: {} } } };
  }
  if (doc?.responseHeaders) {
    responses["200"] = { ...responses["200"], headers: Object.fromEntries(Object.entries(doc.responseHeaders).map(([name, description]) => [name, { description, schema: { type: "string" } }])) };
  }
  for (const [status, value] of Object.entries(doc?.responses ?? {})) {
    const r: RouteResponseDoc = typeof value === "string" ? { description: value } : value;
    responses[status] = {
      description: r.description,
      content: { [r.contentType ?? "application/json"]: { schema: r.schema ? jsonSchema(r.schema, "output") : errorBody } },
    };
  }
  if (doc?.body) responses["400"] ??= { description: "Invalid input", content: { "application/json": { schema: errorBody } } };
  if (doc?.auth === "bearer") responses["401"] ??= { description: "Missing or invalid token", content: { "application/json": { schema: errorBody } } };

  const parameters = [...parametersOf(doc?.params, "path", openApiPath(route.url, doc?.wildcardParam)), ...(doc?.query ? parametersOf(doc.query, "query", route.url) : [])];
  return {
    operationId: `${route.method}${openApiPath(route.url, doc?.wildcardParam).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
    summary: doc?.summary ?? `${route.method.toUpperCase()} ${route.url}`,
    ...(doc?.description ? { description: doc.description } : {}),
    tags: doc?.tags ?? [route.url.split("/")[1] ?? "api"],
    ...(parameters.length ? { parameters } : {}),
    ...(doc?.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(doc.body, "input") } } } } : {}),
    responses,
    ...(doc?.auth === "bearer" ? { security: [{ bearer: [] }] } : doc?.auth === "none" ? { security: [] } : {}),
    ...(doc ? {} : { "x-undocumented": true }),
  };
}

export function buildDocument(routes: RecordedRoute[], info: OpenApiInfo) {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of [...routes].sort((a, b) => a.url.localeCompare(b.url))) {
    const path = openApiPath(route.url, route.doc?.wildcardParam);
    (paths[path] ??= {})[route.method] = operationOf(route);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard",
      version: info.version,
      description:
        "REST surface of Switchboard: the OpenAI-compatible gateway (/v1), emergency stop aliases, operations endpoints and the legacy routes. Every procedure is also reachable over tRPC at /trpc (plain JSON).",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An access token from auth.login, or an API key (sb-…)" },
      },
    },
    paths,
  };
}
