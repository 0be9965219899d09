/** Single sign-on routes under /auth (only those configured are registered). */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { registerGithubRoutes } from "./github-routes.ts";
import { registerOidcRoutes } from "./oidc-routes.ts";

export function registerSsoRoutes(app: FastifyInstance, deps: AppDeps): void {
  registerOidcRoutes(app, deps);
  registerGithubRoutes(app, deps);
}
