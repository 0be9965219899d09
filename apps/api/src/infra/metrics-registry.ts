import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * A Prometheus registry with the process metrics (CPU, memory, event loop, GC), prefixed
 * `switchboard_` like every metric we own. One per app instance, so two instances in one
 * test process keep separate figures.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "switchboard_" });
  return registry;
}
