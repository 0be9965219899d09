/**
 * The gateway configuration as instances hold it in memory: providers (secrets decrypted)
 * and model routes, at one version. Loaded from PostgreSQL, replaced whole on every change.
 */
import type { TProviderKind } from "@switchboard/schema";

export interface ProviderConfig {
  id: string;
  name: string;
  kind: TProviderKind;
  baseUrl: string | null;
  apiKey: string | undefined;
  headers: Record<string, string>;
  timeoutMs: number | null;
  models: string[];
  apiVersion: string | null;
  healthPath: string | null;
  source: "env" | "api";
  position: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface RouteTargetConfig {
  provider: string;
  upstreamModel: string;
  weight: number | null;
}

export interface RouteConfig {
  name: string;
  targets: RouteTargetConfig[];
  inputPricePerMTok: number | null;
  outputPricePerMTok: number | null;
  cachedInputPricePerMTok: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface GatewaySnapshot {
  version: number;
  providers: ProviderConfig[];
  routes: RouteConfig[];
}

/** USD per million tokens, for spend accounting. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  cachedInputPerMTok: number | null;
}
