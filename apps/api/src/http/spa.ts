import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { sendMethodNotAllowed } from "./method-not-allowed.ts";
import { declareFeature } from "./route-features.ts";

const API_PREFIXES = ["/trpc", "/v1", "/api", "/health", "/ready", "/metrics"];

export function defaultAdminDistDir(): string {
  return fileURLToPath(new URL("../../../admin/dist", import.meta.url));
}

/**
 * Serves the admin SPA build at `/`. Unknown non-API GETs get index.html so client-side
 * routes survive a reload; unknown API paths get a JSON 404, known ones under another
 * method a 405.
 */
export async function registerSpa(app: FastifyInstance, distDir: string): Promise<void> {
  const hasBuild = existsSync(join(distDir, "index.html"));
  if (!hasBuild) app.log.warn({ distDir }, "admin SPA build not found; run `npm run build -w @switchboard/admin`");
  // One scope, so the files (and the reply.sendFile the fallback uses) are declared "ops".
  await app.register(async (scope) => {
    declareFeature(scope, "ops");
    if (hasBuild) {
      // wildcard: files are looked up per request, so a rebuilt SPA is served without a restart.
      await scope.register(fastifyStatic, { root: distDir, wildcard: true, index: "index.html" });
    }
    scope.setNotFoundHandler((request, reply) => {
      if (sendMethodNotAllowed(request, reply)) return reply;
      const isApi = API_PREFIXES.some((p) => request.url.startsWith(p));
      if (request.method === "GET" && !isApi && hasBuild) {
        return reply.type("text/html").sendFile("index.html");
      }
      return reply.status(404).send({ error: { code: "NOT_FOUND", message: `No route ${request.method} ${request.url.split("?")[0]}` } });
    });
  });
}
