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

/** Ready when the database answers; coordination trouble degrades (last known state is kept). */
export async function readiness(deps: Pick<AppDeps, "db" | "coordination" | "env">): Promise<TReadiness> {
  const [dbOk, coordOk] = await Promise.all([
    deps.db.ping().catch(() => false),
    deps.coordination.ping().catch(() => false),
  ]);
  const coordinationStatus = coordOk && deps.coordination.state() === "ready" ? "ok" : "degraded";
  const active = activeProviders(deps.env);
  const status = !dbOk ? "not_ready" : coordinationStatus === "ok" ? "ready" : "degraded";
  return {
    status,
    checks: {
      database: { status: dbOk ? "ok" : "down", kind: deps.db.kind },
      coordination: { status: coordinationStatus, kind: deps.coordination.kind },
      providers: { status: "ok", active },
    },
  };
}

/** A provider is active when its URL/key is configured; the template responder always is. */
export function activeProviders(env: AppDeps["env"]): string[] {
  const configured: Record<string, boolean> = {
    beta: env.BETA_MODEL_BASE_URL !== undefined,
    deepseek: env.DEEPSEEK_API_KEY !== undefined,
    openai: env.OPENAI_API_KEY !== undefined,
    ollama: env.OLLAMA_BASE_URL !== undefined,
    template: true,
  };
  return env.PROVIDER_ORDER.filter((id) => configured[id]);
}
