/**
 * The gateway configuration as instances hold it in memory: providers (secrets decrypted)
 * and model routes, at one version. Loaded from PostgreSQL, replaced whole on every change.
 */
import type { ProviderSettings } from "../../providers/create-provider.ts";

/** What a provider is made from (ProviderSettings), and where it stands in the configuration. */
export interface ProviderConfig extends ProviderSettings {
  id: string;
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
  /** Seconds its requests' answers are kept in the response cache without asking; null = only when asked. */
  cacheTtlSec: number | null;
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
