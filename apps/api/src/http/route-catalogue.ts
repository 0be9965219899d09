import type { FastifyInstance } from "fastify";

export interface RouteEntry {
  method: string;
  url: string;
}

const catalogues = new WeakMap<FastifyInstance, RouteEntry[]>();

/**
 * Records every route registered on `app` from now on (including those of plugins registered
 * later), so tools that must cover every route (the fuzz suite, documentation checks) read
 * the server's own list instead of a hand-kept one.
 */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RouteEntry[] = [];
  catalogues.set(app, routes);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
}

/** The routes recorded for `app` (empty when recordRoutes was not called). */
export function routesOf(app: FastifyInstance): readonly RouteEntry[] {
  return catalogues.get(app) ?? [];
}
