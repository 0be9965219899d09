import type { Coordination } from "../../infra/coordination/port.ts";

/**
 * Cluster-wide revocation of access tokens, kept in coordination so every instance sees a
 * logout at once. Entries live only as long as an access token could, so the store stays
 * small: a revoked session (logout) and a per-user "not before" epoch (disable, password
 * reset, role change) that kills every token issued earlier.
 */
export function createRevocations(coordination: Coordination, accessTtlSec: number) {
  const ttlMs = (accessTtlSec + 60) * 1000;
  const sessionKey = (id: string) => `auth:revoked-session:${id}`;
  const userKey = (id: string) => `auth:user-not-before:${id}`;

  return {
    async revokeSession(sessionId: string): Promise<void> {
      await coordination.set(sessionKey(sessionId), "1", { ttlMs });
    },
    /** Invalidates every access token of the user issued before now. */
    async revokeUserTokens(userId: string): Promise<void> {
      await coordination.set(userKey(userId), String(Date.now()), { ttlMs });
    },
    async isRevoked(claims: { sessionId: string; userId: string; issuedAtMs: number }): Promise<boolean> {
      // Runs on every authenticated request: both keys in one MGET (one Redis round trip).
      const [session = null, notBefore = null] = await coordination.getMany([sessionKey(claims.sessionId), userKey(claims.userId)]);
      return session !== null || (notBefore !== null && claims.issuedAtMs <= Number(notBefore));
    },
  };
}

export type Revocations = ReturnType<typeof createRevocations>;
