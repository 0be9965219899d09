import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { hashPassword, verifyPassword } from "./auth/passwords.ts";

/**
 * Returns the JWT signing secret: the configured one, or one generated once into DATA_DIR
 * (0600) so tokens survive restarts of an embedded install without any setup.
 */
export async function resolveJwtSecret(opts: { configured: string | undefined; dataDir: string; log: Logger }): Promise<string> {
  if (opts.configured) return opts.configured;
  const path = join(opts.dataDir, "jwt-secret");
  try {
    const existing = (await readFile(path, "utf8")).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // not there yet: generate below
  }
  await mkdir(opts.dataDir, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  opts.log.info({ path }, "generated a JWT secret (set JWT_SECRET to manage it yourself)");
  return secret;
}

/**
 * Returns the key that encrypts provider secrets: SECRETS_KEY, or (embedded mode) one
 * generated once into DATA_DIR/secrets-key (0600) like the JWT secret. A cluster without
 * SECRETS_KEY gets a per-instance key and a warning: instances could not read each other's.
 */
export async function resolveSecretsKey(opts: { configured: string | undefined; dataDir: string; cluster: boolean; log: Logger }): Promise<Buffer> {
  if (opts.configured) return Buffer.from(opts.configured, "base64");
  const path = join(opts.dataDir, "secrets-key");
  try {
    const existing = Buffer.from((await readFile(path, "utf8")).trim(), "base64");
    if (existing.length === 32) return existing;
  } catch {
    // not there yet: generate below
  }
  await mkdir(opts.dataDir, { recursive: true });
  const key = randomBytes(32);
  await writeFile(path, `${key.toString("base64")}\n`, { mode: 0o600 });
  if (opts.cluster) opts.log.warn({ path }, "SECRETS_KEY is unset in cluster mode: generated one for this instance only; set the same SECRETS_KEY on every instance");
  else opts.log.info({ path }, "generated a secrets key (set SECRETS_KEY to manage it yourself)");
  return key;
}

export const GENERATED_SUPERADMIN_EMAIL = "admin@switchboard.local";

/**
 * Makes sure a SuperAdmin exists. With SUPERADMIN_EMAIL/PASSWORD the account is created or
 * brought in line with them (env is the source of truth). Without them, and only when no
 * SuperAdmin exists yet, one is created with a random password written to a 0600 file.
 */
export async function bootstrapSuperAdmin(opts: {
  prisma: PrismaClient;
  email: string | undefined;
  password: string | undefined;
  dataDir: string;
  log: Logger;
}): Promise<void> {
  const { prisma, log } = opts;
  if (opts.email && opts.password) {
    const email = opts.email.toLowerCase();
    const existing = await prisma.user.findUnique({ where: { email } });
    if (!existing) {
      await prisma.user.create({ data: { email, passwordHash: await hashPassword(opts.password), role: "SUPERADMIN" } });
      log.info({ email }, "created SuperAdmin from SUPERADMIN_EMAIL");
      return;
    }
    const passwordMatches = await verifyPassword(existing.passwordHash, opts.password);
    if (existing.role !== "SUPERADMIN" || existing.disabled || !passwordMatches) {
      await prisma.user.update({
        where: { id: existing.id },
        data: {
          role: "SUPERADMIN",
          disabled: false,
          ...(passwordMatches ? {} : { passwordHash: await hashPassword(opts.password) }),
        },
      });
      log.info({ email }, "updated SuperAdmin to match SUPERADMIN_EMAIL/SUPERADMIN_PASSWORD");
    }
    return;
  }
  if ((await prisma.user.count({ where: { role: "SUPERADMIN" } })) > 0) return;
  const password = randomBytes(18).toString("base64url");
  await prisma.user.create({
    data: { email: GENERATED_SUPERADMIN_EMAIL, passwordHash: await hashPassword(password), role: "SUPERADMIN" },
  });
  await mkdir(opts.dataDir, { recursive: true });
  const path = join(opts.dataDir, "superadmin-credentials.txt");
  await writeFile(path, `email: ${GENERATED_SUPERADMIN_EMAIL}\npassword: ${password}\n`, { mode: 0o600 });
  log.warn({ path, email: GENERATED_SUPERADMIN_EMAIL }, "created a SuperAdmin with a random password; read it from this file");
}
