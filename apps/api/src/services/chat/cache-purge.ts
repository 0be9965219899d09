/**
 * Purging kept answers as an operator's act: who may purge whose, the purge itself (the
 * response cache's, on every instance), and its durable record.
 *
 * Order: purge, then record. A purge that is refused, names nobody (404) or cannot reach the
 * shared store writes nothing. A record that cannot be written fails the call (503) although
 * the purge took effect: success is never claimed for a purge that is not on record, and a
 * repeat purge is harmless (it only raises a time), so retrying both purges and records.
 * Recording first instead would leave a record of a purge that never happened whenever the
 * store failed after the write.
 */
import type { Logger } from "pino";
import { roleAtLeast, type TCachePurgeInput, type TCachePurgeResult, type TCachePurgesPage, type TRole } from "@switchboard/schema";
import { AppError } from "../errors.ts";
import type { CachePurgeRecords, PurgeActor } from "./cache-purge-records.ts";
import type { ResponseCache } from "./response-cache.ts";

export interface CachePurgeDeps {
  cache: Pick<ResponseCache, "purge">;
  records: CachePurgeRecords;
  /** Whether a user by this id exists (a purge of another user's answers names one). */
  userExists: (id: string) => Promise<boolean>;
  log: Pick<Logger, "info" | "error">;
}

export function createCachePurge(deps: CachePurgeDeps) {
  /**
   * Forgets kept answers: the caller's own, or (an ADMIN, signed in) another user's or
   * everyone's — an app's API key, whatever its owner's role, only its owner's.
   */
  async function purge(actor: PurgeActor & { role: TRole }, input: TCachePurgeInput): Promise<TCachePurgeResult> {
    const viaKey = actor.keyId !== undefined;
    const whose = input?.everyone ? "everyone" : { userId: input?.userId ?? actor.id };
    if (whose === "everyone" || whose.userId !== actor.id) {
      if (!roleAtLeast(actor.role, "ADMIN")) throw new AppError("FORBIDDEN", "Only an ADMIN purges another user's or everyone's cached answers");
      if (viaKey) throw new AppError("FORBIDDEN", "An API key purges only its owner's cached answers; sign in to purge another user's or everyone's");
    }
    if (whose !== "everyone" && whose.userId !== actor.id && !(await deps.userExists(whose.userId))) {
      throw new AppError("NOT_FOUND", "No user has this id: nothing was purged", { details: { field: "userId" } });
    }
    const purgedAt = await deps.cache.purge(whose);
    // Who emptied whose cache, in the log too: the line survives a record that cannot be written.
    const line = { actorId: actor.id, viaKey, purged: whose === "everyone" ? "everyone" : whose.userId, purgedAt: purgedAt.toISOString() };
    try {
      await deps.records.record({ actor: { id: actor.id, email: actor.email, keyId: actor.keyId }, whose, purgedAt });
    } catch (cause) {
      deps.log.error({ ...line, err: cause }, "response cache purged, but the purge could not be recorded");
      throw new AppError("SERVICE_UNAVAILABLE", "The cached answers were purged, but the purge could not be recorded; purge again to record it", { retryAfterSec: 2, cause });
    }
    deps.log.info(line, "response cache purged");
    return { purgedAt: purgedAt.toISOString(), userId: whose === "everyone" ? null : whose.userId, everyone: whose === "everyone" };
  }

  /** Recorded purges, newest first (ADMIN). */
  function list(input: { cursor?: string | undefined; limit: number }): Promise<TCachePurgesPage> {
    return deps.records.list(input);
  }

  return { purge, list };
}

export type CachePurge = ReturnType<typeof createCachePurge>;
