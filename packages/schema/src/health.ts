import { z } from "zod";

export const ZHealth = z.object({
  status: z.literal("ok"),
  timestamp: z.string(),
  uptime: z.number(),
  environment: z.string(),
  version: z.string(),
});
export type THealth = z.infer<typeof ZHealth>;

export const ZCheckState = z.enum(["ok", "degraded", "down"]);
export const ZReadiness = z.object({
  status: z.enum(["ready", "degraded", "not_ready"]),
  checks: z.object({
    database: z.object({ status: ZCheckState, kind: z.string() }),
    coordination: z.object({ status: ZCheckState, kind: z.string() }),
    providers: z.object({ status: ZCheckState, active: z.array(z.string()) }),
  }),
  /** Present while the instance stops (SIGTERM): not ready, whatever the checks say. */
  stopping: z.literal(true).optional(),
});
export type TReadiness = z.infer<typeof ZReadiness>;
