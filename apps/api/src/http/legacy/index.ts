/**
 * The HTTP surface of the backends Switchboard replaces (docs/migrating.md), so their
 * clients move over without code changes. Every route is a thin adapter over the same
 * procedures and services as the primary surface.
 */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { registerLegacyAuthRoutes } from "./auth-routes.ts";
import { registerLegacyChatRoutes } from "./chat-routes.ts";
import { registerLegacyConsensusRoutes } from "./consensus-routes.ts";
import { registerLegacyInfoRoutes, type LiveCounts } from "./info-routes.ts";

export type { LiveCounts };

export function registerLegacyRoutes(app: FastifyInstance, deps: AppDeps, live: LiveCounts): void {
  registerLegacyChatRoutes(app, deps);
  registerLegacyConsensusRoutes(app, deps);
  registerLegacyInfoRoutes(app, deps, live);
  registerLegacyAuthRoutes(app, deps);
}
