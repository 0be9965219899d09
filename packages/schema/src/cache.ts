/** The response cache as an operator's tool: forgetting kept answers (`cache.purge`). */
import { z } from "zod";
import { ZId } from "./common.ts";

export const ZCachePurgeInput = z
  .object({
    /** Another user's kept answers (ADMIN); absent: the caller's own. */
    userId: ZId.optional(),
    /** Everyone's kept answers (ADMIN). */
    everyone: z.boolean().optional(),
  })
  .refine((v) => !(v.userId !== undefined && v.everyone === true), { message: "Give userId or everyone, not both", path: ["everyone"] })
  .optional();
export type TCachePurgeInput = z.infer<typeof ZCachePurgeInput>;

export const ZCachePurgeResult = z.object({
  /** Answers kept before this are never served again, on any instance. */
  purgedAt: z.string(),
  /** Whose: one user's (`userId`), or everyone's. */
  userId: z.string().nullable(),
  everyone: z.boolean(),
});
export type TCachePurgeResult = z.infer<typeof ZCachePurgeResult>;
