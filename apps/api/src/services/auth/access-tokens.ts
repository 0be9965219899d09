import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { ZRole, type TRole } from "@switchboard/schema";

export interface AccessClaims {
  userId: string;
  email: string;
  role: TRole;
  sessionId: string;
  /** Issued-at in milliseconds (the standard `iat` has 1 s resolution, too coarse for revocation). */
  issuedAtMs: number;
  /** When the token stops verifying (its `exp`), in milliseconds. */
  expiresAtMs: number;
}

export interface AccessTokenConfig {
  secret: string;
  issuer: string;
  audience: string;
  ttlSec: number;
}

/** Tokens larger than this are rejected before any crypto work. */
const MAX_TOKEN_LENGTH = 4096;
/** Verified tokens remembered (insertion-ordered Map, oldest evicted first). */
const VERIFIED_CACHE_SIZE = 10_000;

export function createAccessTokens(config: AccessTokenConfig) {
  const key = new TextEncoder().encode(config.secret);

  async function sign(claims: Omit<AccessClaims, "issuedAtMs" | "expiresAtMs">): Promise<string> {
    return new SignJWT({ email: claims.email, role: claims.role, sid: claims.sessionId, iat_ms: Date.now() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(config.issuer)
      .setAudience(config.audience)
      .setIssuedAt()
      .setNotBefore("0s")
      .setExpirationTime(`${config.ttlSec}s`)
      .sign(key);
  }

  // A token's signature and claims never change, only the clock moves: remembering which
  // token strings verified (until their exp) skips the HMAC on every request after the
  // first, the largest CPU cost of a gateway call. Revocation is checked by the caller on
  // every request regardless.
  const verified = new Map<string, AccessClaims>();

  /** Returns the claims of a valid token, or null for any invalid one. Never throws. */
  async function verify(token: string): Promise<AccessClaims | null> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    const cached = verified.get(token);
    if (cached) {
      if (Date.now() < cached.expiresAtMs) return cached;
      verified.delete(token);
    }
    const claims = await verifyUncached(token);
    if (claims) {
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      verified.set(token, claims);
    }
    return claims;
  }

  async function verifyUncached(token: string): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ["HS256"],
        issuer: config.issuer,
        audience: config.audience,
        requiredClaims: ["sub", "exp", "iat", "nbf"],
      });
      const role = ZRole.safeParse(payload.role);
      if (!role.success || typeof payload.sub !== "string" || typeof payload.sid !== "string") return null;
      if (typeof payload.email !== "string" || typeof payload.iat_ms !== "number") return null;
      return { userId: payload.sub, email: payload.email, role: role.data, sessionId: payload.sid, issuedAtMs: payload.iat_ms, expiresAtMs: payload.exp! * 1000 };
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) return null;
      throw error;
    }
  }

  return { sign, verify, ttlSec: config.ttlSec };
}

export type AccessTokens = ReturnType<typeof createAccessTokens>;
