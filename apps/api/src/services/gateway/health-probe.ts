/**
 * Background reachability of every provider: one GET per provider and period on its models
 * endpoint (or its configured healthPath). Any HTTP answer counts as reachable, a 401
 * included: the host is up, and a wrong key is what providers.test is for. A redirect is an
 * answer too, and is not followed. Probes cost no
 * request path anything; results are read synchronously.
 */
import type { TProviderHealth } from "@switchboard/schema";
import { anthropicAuthHeaders, anthropicBaseUrl } from "../../providers/anthropic.ts";
import { ollamaOpenAIUrl, unreadableSecretsMessage } from "../../providers/create-provider.ts";
import { openAICredential } from "../../providers/openai-compatible.ts";
import { providerHeaders } from "../../providers/upstream-http.ts";
import type { ProviderConfig } from "./config-types.ts";

export const HEALTH_PROBE_INTERVAL_MS = 30_000;
const PROBE_TIMEOUT_MS = 5_000;

/** Where a provider of each kind answers a cheap GET. */
export function probeUrl(p: ProviderConfig): string | null {
  if (!p.baseUrl) return null;
  const base = p.baseUrl.replace(/\/+$/, "");
  if (p.healthPath) return `${base}${p.healthPath}`;
  switch (p.kind) {
    case "anthropic":
      return `${anthropicBaseUrl(base)}/v1/models`;
    case "ollama":
      return `${ollamaOpenAIUrl(base).replace(/\/v1$/, "")}/api/tags`;
    case "azure-openai":
      return `${base}/openai/models?api-version=${encodeURIComponent(p.apiVersion ?? "2024-10-21")}`;
    default:
      return `${base}/models`;
  }
}

/** What the provider's calls send it (providerHeaders: its configured headers win), without a body's. */
export function probeHeaders(p: ProviderConfig): Record<string, string> {
  const credential = p.kind === "anthropic" ? anthropicAuthHeaders(p.apiKey) : openAICredential(p.apiKey, p.kind === "azure-openai");
  return providerHeaders(credential, p.headers);
}

const UNKNOWN: TProviderHealth = { state: "unknown", latencyMs: null, lastError: null, checkedAt: null };

export function createHealthProbe(opts: { providers: () => ProviderConfig[]; intervalMs?: number; onProbe?: (name: string, health: TProviderHealth) => void }) {
  const health = new Map<string, TProviderHealth>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  async function probeOne(p: ProviderConfig): Promise<TProviderHealth> {
    const url = probeUrl(p);
    // The template has nothing to reach: it is always there.
    if (!url) return { state: "reachable", latencyMs: 0, lastError: null, checkedAt: new Date().toISOString() };
    // Not probed without its key and headers, as it is not called without them.
    if (p.unreadableSecrets?.length) return { state: "unknown", latencyMs: null, lastError: unreadableSecretsMessage(p.name, p.unreadableSecrets), checkedAt: new Date().toISOString() };
    const started = performance.now();
    try {
      // Never followed: a redirect (an open one on the provider's host, say) would carry the
      // probe's key and headers to wherever it points — fetch drops only Authorization on the
      // way. A 3xx answer is an answer: the host is up.
      const res = await fetch(url, { headers: probeHeaders(p), redirect: "manual", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await res.body?.cancel().catch(() => {});
      const latencyMs = Math.round(performance.now() - started);
      const lastError = res.ok ? null : `HTTP ${res.status}`;
      return { state: "reachable", latencyMs, lastError, checkedAt: new Date().toISOString() };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = (error as Error).name === "TimeoutError" ? `no answer within ${PROBE_TIMEOUT_MS} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
      return { state: "unreachable", latencyMs: null, lastError: reason, checkedAt: new Date().toISOString() };
    }
  }

  async function probeAll(): Promise<void> {
    if (running) return;
    running = true;
    try {
      const providers = opts.providers();
      const results = await Promise.all(providers.map((p) => probeOne(p)));
      const names = new Set(providers.map((p) => p.name));
      for (const name of health.keys()) if (!names.has(name)) health.delete(name);
      providers.forEach((p, i) => {
        health.set(p.name, results[i]!);
        opts.onProbe?.(p.name, results[i]!);
      });
    } finally {
      running = false;
    }
  }

  return {
    start() {
      void probeAll();
      timer = setInterval(() => void probeAll(), opts.intervalMs ?? HEALTH_PROBE_INTERVAL_MS);
      timer.unref();
    },
    /** Probes now (after a configuration change, so a new provider does not wait a period). */
    probeNow: () => probeAll(),
    of: (name: string): TProviderHealth => health.get(name) ?? UNKNOWN,
    all: () => new Map(health),
    stop() {
      clearInterval(timer);
    },
  };
}

export type HealthProbe = ReturnType<typeof createHealthProbe>;
