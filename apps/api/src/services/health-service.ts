import type { THealth, TReadiness } from "@switchboard/schema";
import type { AppDeps } from "../deps.ts";

export function health(deps: Pick<AppDeps, "env" | "startedAt" | "version">): THealth {
  return {
    status: "ok",
    timestamp: new Date().toISOString(),
    uptime: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
    environment: deps.env.NODE_ENV,
    version: deps.version,
  };
}

/**
 * Ready when the database answers; coordination trouble degrades (last known state is kept).
 * An instance that is stopping is not ready: a load balancer that still probes it sends new
 * work elsewhere, which it would refuse anyway.
 */
export async function readiness(deps: Pick<AppDeps, "db" | "coordination" | "providers" | "lifecycle">): Promise<TReadiness> {
  const [dbOk, coordOk] = await Promise.all([
    deps.db.ping().catch(() => false),
    deps.coordination.ping().catch(() => false),
  ]);
  const coordinationStatus = coordOk && deps.coordination.state() === "ready" ? "ok" : "degraded";
  const active = deps.providers.chain().map((p) => p.id);
  const stopping = deps.lifecycle.stopping.aborted;
  const status = !dbOk || stopping ? "not_ready" : coordinationStatus === "ok" ? "ready" : "degraded";
  return {
    ...(stopping ? { stopping: true as const } : {}),
    status,
    checks: {
      database: { status: dbOk ? "ok" : "down", kind: deps.db.kind },
      coordination: { status: coordinationStatus, kind: deps.coordination.kind },
      providers: { status: "ok", active },
    },
  };
}

/** What a deployment offers, for clients that adapt to it (the old backends' /api/info). */
export const SERVICE_FEATURES = [
  "chat",
  "chat-stream",
  "websocket",
  "consensus",
  "metrics",
  "emergency-stop",
  "openai-compatible",
  "conversations",
] as const;

export function serviceInfo(deps: Pick<AppDeps, "version" | "providers" | "startedAt">, extra: { sso?: string[] } = {}) {
  return {
    name: "Switchboard",
    version: deps.version,
    providers: deps.providers.chain().map((p) => p.id),
    features: [...SERVICE_FEATURES, ...(extra.sso && extra.sso.length > 0 ? ["sso"] : [])],
    ...(extra.sso ? { sso: extra.sso } : {}),
    startedAt: deps.startedAt.toISOString(),
  };
}
