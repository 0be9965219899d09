/** The response cache as an operator's tool: forgetting kept answers (`cache.purge`), and the record of each purge (`cache.purges`). */
import { z } from "zod";
import { pageOf, ZId, ZPageInput } from "./common.ts";

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

export const ZCachePurgesInput = ZPageInput.optional();
export type TCachePurgesInput = z.infer<typeof ZCachePurgesInput>;

/** One purge as recorded: who asked (signed in, or with which API key), whose answers, and the purge time that holds. */
export const ZCachePurgeRecord = z.object({
  id: z.string(),
  /** Who purged: kept as they were then (the record outlives the account). */
  actorId: z.string(),
  actorEmail: z.string(),
  /** `session`: signed in; `key`: with an API key (which purges only its owner's answers). */
  via: z.enum(["session", "key"]),
  /** The API key the purge came with, and its name while it exists. */
  actorKeyId: z.string().nullable(),
  actorKeyName: z.string().nullable(),
  /** Whose answers: one user's (their id and email then), or everyone's (both null). */
  userId: z.string().nullable(),
  userEmail: z.string().nullable(),
  everyone: z.boolean(),
  /** The purge time that holds: answers kept before it are never served again. */
  purgedAt: z.string(),
  /** When the record was written. */
  createdAt: z.string(),
});
export type TCachePurgeRecord = z.infer<typeof ZCachePurgeRecord>;
export const ZCachePurgesPage = pageOf(ZCachePurgeRecord);
export type TCachePurgesPage = z.infer<typeof ZCachePurgesPage>;
