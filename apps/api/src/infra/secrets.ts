/**
 * Secrets at rest: AES-256-GCM under SECRETS_KEY. A sealed value is
 * `v1:<iv>:<tag>:<ciphertext>` (base64url), so a wrong key or a tampered row fails loudly
 * instead of decrypting to garbage.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error("SECRETS_KEY must be 32 bytes");
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return ["v1", iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), body.toString("base64url")].join(":");
    },
    open(sealed) {
      const [version, iv, tag, body] = sealed.split(":");
      if (version !== "v1" || !iv || !tag || body === undefined) throw new Error("not a sealed secret");
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
    },
  };
}

/**
 * What may be shown of a secret: its vendor prefix (`sk-`, up to the first '-', at most 3
 * characters; keys only) and last 4 characters, and only when enough stays hidden. `sk-…a1b2`.
 */
export function maskSecret(secret: string, opts: { vendorPrefix?: boolean } = {}): string {
  const tail = secret.length >= 12 ? secret.slice(-4) : "";
  const dash = secret.indexOf("-");
  const head = (opts.vendorPrefix ?? true) && dash > 0 && dash <= 3 && secret.length >= 12 ? secret.slice(0, dash + 1) : "";
  return `${head}…${tail}`;
}
