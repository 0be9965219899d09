import { createHash, randomBytes } from "node:crypto";

/** Every API key starts with this, so a token can be told from a JWT without parsing it. */
export const KEY_PREFIX = "sb-";
/** `sb-` + 32 random bytes in base64url (43 characters). */
const SECRET_BYTES = 32;
const SECRET_PATTERN = /^sb-[A-Za-z0-9_-]{43,86}$/;
/** Characters of the secret shown in lists: enough to recognise a key, useless to guess it. */
const VISIBLE = KEY_PREFIX.length + 8;

export const looksLikeApiKey = (token: string): boolean => token.startsWith(KEY_PREFIX);

export const isWellFormedKey = (token: string): boolean => SECRET_PATTERN.test(token);

/**
 * SHA-256 rather than a password hash: the secret has 256 random bits, so there is nothing
 * to stretch, and a deterministic hash lets the key be looked up by it.
 */
export const hashKey = (secret: string): string => createHash("sha256").update(secret).digest("base64url");

export function newKeySecret(): { key: string; hash: string; prefix: string } {
  const key = KEY_PREFIX + randomBytes(SECRET_BYTES).toString("base64url");
  return { key, hash: hashKey(key), prefix: key.slice(0, VISIBLE) };
}
