/**
 * Entry point for coordination: picks the adapter from configuration. With a Redis URL the
 * instance joins the cluster (and start-up fails loudly if Redis is unusable); without one
 * it runs the in-process adapter for the embedded single-machine default.
 */
import { createMemoryCoordination } from "./memory.ts";
import { createRedisCoordination, type CoordinationLog } from "./redis.ts";
import type { Coordination } from "./port.ts";

export type { Coordination, ConnectionState, InstanceInfo, RateLimitResult, Unsubscribe } from "./port.ts";
export type { CoordinationLog } from "./redis.ts";
export { createMemoryCoordination } from "./memory.ts";
export { createRedisCoordination } from "./redis.ts";

export interface CoordinationConfig {
  /** REDIS_URL; unset or empty selects the in-process adapter. */
  redisUrl?: string;
  keyPrefix?: string;
  instanceId?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  log?: CoordinationLog;
}

export async function createCoordination(config: CoordinationConfig = {}): Promise<Coordination> {
  const { redisUrl, log } = config;
  if (!redisUrl) return createMemoryCoordination(log ? { log } : {});
  return createRedisCoordination({ ...config, url: redisUrl });
}
