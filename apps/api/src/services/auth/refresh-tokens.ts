import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Refresh tokens are opaque: "<sessionId>.<256 random bits>". Only a SHA-256 of the token is
 * stored (the secret is high-entropy, so a slow hash adds nothing), and the session id prefix
 * finds the row without scanning.
 */
export function newRefreshToken(sessionId: string): { token: string; hash: string } {
  const token = `${sessionId}.${randomBytes(32).toString("base64url")}`;
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function sessionIdOf(token: string): string | null {
  const dot = token.indexOf(".");
  if (dot <= 0 || token.length > 512) return null;
  return token.slice(0, dot);
}

export function sameHash(a: string, b: string): boolean {
  const ab = Buffer.from(a, "hex");
  const bb = Buffer.from(b, "hex");
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
