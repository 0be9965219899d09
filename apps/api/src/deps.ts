import type { Logger } from "pino";
import type { Env } from "./env.ts";
import type { Database } from "./infra/database.ts";
import type { Coordination } from "./infra/coordination/port.ts";
import type { Lifecycle } from "./infra/lifecycle.ts";
import type { StreamSlots } from "./infra/stream-slots.ts";
import type { LiveGateway } from "./services/gateway/index.ts";
import type { ProviderRegistry } from "./services/gateway/registry.ts";
import type { AuthService } from "./services/auth/auth-service.ts";
import type { CredentialWatch } from "./services/auth/credential-watch.ts";
import type { ChatService } from "./services/chat/chat-service.ts";
import type { ChatRate } from "./services/chat/chat-rate.ts";
import type { ConsensusService } from "./services/consensus/consensus-service.ts";
import type { KeysService } from "./services/keys/index.ts";
import type { RequestLogService } from "./services/request-log/index.ts";
import type { EmergencyService } from "./services/emergency/emergency-service.ts";
import type { MetricsService } from "./services/metrics/metrics-service.ts";
import type { SsoService } from "./services/auth/sso-service.ts";
import type { UsersService } from "./services/users-service.ts";
import type { ResponseItems } from "./services/response-items.ts";

/**
 * Everything a request handler may use, created once at start (see app.ts) and passed in.
 * Tests build the same object on real PostgreSQL/Redis or on the embedded adapters.
 */
export interface AppDeps {
  env: Env;
  /** SIGTERM as request handlers see it: stop signals for endless and in-flight work. */
  lifecycle: Lifecycle;
  /** Open long-lived streams on this instance, per owner and overall. */
  streams: StreamSlots;
  log: Logger;
  instanceId: string;
  startedAt: Date;
  version: string;
  db: Database;
  coordination: Coordination;
  auth: AuthService;
  /** Ends a signed-in caller's running streams when their session or API key ends. */
  credentials: CredentialWatch;
  users: UsersService;
  sso: SsoService;
  /** Test knob: where GitHub is (a local stand-in; default github.com and api.github.com). */
  ssoUpstream?: { github?: { authorize?: string; token?: string; api?: string } };
  /** Test knob: how long a /v1 or /api/chat/stream stream stays silent before its heartbeat (default SSE_HEARTBEAT_MS). */
  sseHeartbeatMs?: number;
  emergency: EmergencyService;
  providers: ProviderRegistry;
  /** Registry, breaker, chain, live configuration (providers.*, models.*) and prices. */
  gateway: LiveGateway;
  chat: ChatService;
  /** A user's chat rate: chat calls and reads of kept answers count against it. */
  chatRate: ChatRate;
  metrics: MetricsService;
  consensus: ConsensusService;
  keys: KeysService;
  requestLog: RequestLogService;
  /** Output items of Responses API answers, for later requests' item_reference. */
  responseItems: ResponseItems;
}
