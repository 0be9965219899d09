import { existsSync, realpathSync, statSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { join, sep } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { adminDistDir } from "../infra/repo-paths.ts";
import { sendMethodNotAllowed } from "./method-not-allowed.ts";
import { isOpenAIPath } from "./openai/errors.ts";
import { answerUnknownV1Path } from "./v1-routes.ts";
import { declareFeature } from "./route-features.ts";
import { AppError } from "../services/errors.ts";

/** Paths where a client expects data: an unknown one there is a JSON 404, never the SPA page. */
const API_PREFIXES = ["/api", "/v1", "/trpc", "/ws", "/auth", "/health", "/ready", "/metrics", "/openapi.json"];

export function defaultAdminDistDir(): string {
  return adminDistDir;
}

const underPrefix = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`);

/**
 * A dotfile or a path under a dot directory (`/.env`, `/.git/config`, `/%2eenv`): never one
 * of the admin's routes, and what scanners probe for. Answering those with the SPA page's 200
 * made every scanner report the file as exposed.
 */
function namesDotfile(path: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return true;
  }
  return decoded.split("/").some((segment) => segment.startsWith("."));
}

/**
 * A browser navigating to a client-side route: a GET that accepts HTML, outside the data
 * prefixes. Programs (fetch, curl, SDKs) send no text/html and get a JSON 404 they can parse.
 * A HEAD gets what its GET would (RFC 9110): an uptime monitor or link checker asking HEAD of
 * `/providers` was told 404 while a browser got the page.
 */
export function wantsSpaPage(request: Pick<FastifyRequest, "method" | "url" | "headers">): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  if (!isSpaPath(request.url)) return false;
  return String(request.headers.accept ?? "").toLowerCase().includes("text/html");
}

/**
 * A path the admin's files and pages answer (GET, HEAD): anything outside the data prefixes
 * that names no dotfile. Repeated slashes count as one for the prefixes: `//v1/models` is no
 * page of the admin either.
 */
function isSpaPath(url: string): boolean {
  const path = (url.split("?")[0] ?? "/").replace(/\/{2,}/g, "/");
  return !API_PREFIXES.some((p) => underPrefix(path, p)) && !namesDotfile(path);
}

/** Source maps would publish every first-party source: never served, even if built. */
const servable = (pathName: string) => !pathName.endsWith(".map");

/** What the build's files answer; any other method at one of them is a 405 naming these. */
const FILE_METHODS = ["GET", "HEAD"] as const;

/**
 * True when `url` names a file of the build (`/` its index.html). Only there is another method
 * a 405: a path with no file (a client-side route, a typo) stays a 404, as for any unknown
 * path, so a 405 says no more than a GET would.
 */
function namesBuiltFile(root: string, url: string): boolean {
  if (!isSpaPath(url) || !servable(url.split("?")[0] ?? "/")) return false;
  let path: string;
  try {
    // As GET would find it: a path spelled other than canonically (`//assets/app.js`) serves no file.
    path = decodeURIComponent(url.split("?")[0] ?? "/");
  } catch {
    return false;
  }
  if (path.includes("//")) return false;
  const file = join(root, path === "/" ? "index.html" : path);
  try {
    return statSync(file, { throwIfNoEntry: false })?.isFile() === true && realpathSync(file).startsWith(realpathSync(root) + sep);
  } catch {
    return false;
  }
}

/**
 * Refuses (404) a file whose real path is outside `root`: a symlink in the build leading out
 * of it (to /etc/passwd, to a secrets directory) is not served. Both paths are resolved for
 * each file, so a dist directory that is itself a symlink, swapped on deploy, still works.
 */
async function refuseOutside(root: string, file: string): Promise<void> {
  const [realRoot, realFile] = await Promise.all([realpath(root), realpath(file)]).catch(() => [undefined, undefined]);
  if (realRoot === undefined || realFile === undefined || !realFile.startsWith(realRoot + sep)) throw new AppError("NOT_FOUND", "Not found");
}

/**
 * Serves the admin SPA build at `/`. Unknown browser navigations get index.html so
 * client-side routes survive a reload; a known path under another method is a 405, and so is
 * a method other than GET and HEAD at one of the build's files; everything else unknown gets a
 * JSON 404.
 */
export async function registerSpa(app: FastifyInstance, distDir: string): Promise<void> {
  const hasBuild = existsSync(join(distDir, "index.html"));
  if (!hasBuild) app.log.warn({ distDir }, "admin SPA build not found; run `npm run build -w @switchboard/admin`");
  // One scope, so the files (and the reply.sendFile the fallback uses) are declared "ops".
  await app.register(async (scope) => {
    declareFeature(scope, "ops");
    if (hasBuild) {
      // wildcard: files are looked up per request, so a rebuilt SPA is served without a restart.
      await scope.register(fastifyStatic, {
        root: distDir,
        wildcard: true,
        index: "index.html",
        allowedPath: servable,
        // `.env`, `.git/config`: never part of a build, and the first thing scanners ask for
        // (the plugin serves dotfiles unless told otherwise).
        dotfiles: "ignore",
        onFile: (file) => refuseOutside(distDir, file),
      });
    }
    scope.setErrorHandler((error: Error & { code?: string }, _request, reply) => {
      // @fastify/static refuses a path that is not in canonical form (`//providers`,
      // `/assets/./app.js`, `/a/../b`) with a 403, which reads as a permissions problem. No
      // file is served at such a path; it is answered as any other path without one.
      if (error.code === "FST_STATIC_FORBIDDEN_PATH") return reply.callNotFound();
      throw error;
    });
    scope.setNotFoundHandler((request, reply) => {
      // The static wildcard route can catch an unknown /v1 path first: answer it as /v1 would.
      if (isOpenAIPath(request.url)) return answerUnknownV1Path(request, reply);
      // Looked up only for another method: a GET or HEAD here is a miss, never a 405.
      const otherMethod = request.method !== "GET" && request.method !== "HEAD";
      if (sendMethodNotAllowed(request, reply, otherMethod && hasBuild && namesBuiltFile(distDir, request.url) ? FILE_METHODS : [])) return reply;
      if (hasBuild && wantsSpaPage(request)) return reply.type("text/html").sendFile("index.html");
      return reply.status(404).send({ error: { code: "NOT_FOUND", message: `No route ${request.method} ${request.url.split("?")[0]}` } });
    });
  });
}
