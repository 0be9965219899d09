/**
 * Announces this instance as alive in coordination every few seconds, so operations that
 * need the fleet's size (the emergency stop's acknowledgements) can list live instances.
 * An instance that stops beating drops out of the list after `ttlMs`.
 */
import type { Coordination, InstanceInfo } from "./coordination/port.ts";

export interface HeartbeatOptions {
  intervalMs?: number;
  ttlMs?: number;
  log?: (msg: string, err: unknown) => void;
}

export const HEARTBEAT_INTERVAL_MS = 2_000;
export const HEARTBEAT_TTL_MS = 6_000;

export interface Heartbeat {
  stop(): void;
}

/** Beats once before resolving, so the instance is listed by the time it serves requests. */
export async function startHeartbeat(
  coordination: Coordination,
  instance: Omit<InstanceInfo, "lastSeenAt">,
  opts: HeartbeatOptions = {},
): Promise<Heartbeat> {
  const ttlMs = opts.ttlMs ?? HEARTBEAT_TTL_MS;
  let failing = false;
  const beat = async () => {
    try {
      await coordination.heartbeat(instance, ttlMs);
      failing = false;
    } catch (error) {
      // One line per outage; beats resume by themselves when coordination is back.
      if (!failing) opts.log?.("heartbeat failed; retrying", error);
      failing = true;
    }
  };
  await beat();
  const timer = setInterval(() => void beat(), opts.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
