import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

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

/**
 * The answer of a rotation, sealed with a key only the presenter of the rotated token can
 * derive (AES-256-GCM, key = SHA-256 of a label and the token). It is kept for a few seconds
 * in coordination, so a second tab presenting the same token gets the same new pair, while
 * whoever reads coordination learns nothing usable.
 */
export function sealForToken(token: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", graceKey(token), iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString("base64url")).join(".");
}

/** Null when the sealed text was not made for this token or was tampered with. */
export function openForToken(token: string, sealed: string): string | null {
  const [iv, tag, body] = sealed.split(".").map((p) => Buffer.from(p, "base64url"));
  if (!iv || !tag || !body) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", graceKey(token), iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}

function graceKey(token: string): Buffer {
  return createHash("sha256").update("switchboard refresh grace\u0001").update(token).digest();
}
