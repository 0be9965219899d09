import { Registry, collectDefaultMetrics } from "prom-client";

let registry: Registry | undefined;

/**
 * The process's Prometheus registry, created once. Process metrics (CPU, memory, event loop)
 * carry the `switchboard_` prefix like every metric we own.
 */
export function metricsRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: "switchboard_" });
  }
  return registry;
}
