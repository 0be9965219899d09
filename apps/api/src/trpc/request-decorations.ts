/**
 * What Switchboard adds to Fastify's request type. Imported (type only) by every module that
 * reads it, so the augmentation is part of any program that compiles those modules — the
 * admin's typecheck included, which reaches the tRPC context through the router's types.
 */
import type { RequestScope } from "../infra/request-scope.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** What the request learns about itself as it runs (infra/request-scope.ts); opened by telemetry's first hook. */
    scope: RequestScope | undefined;
  }
}
