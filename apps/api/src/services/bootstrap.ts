import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";
import { hashPassword, verifyPassword } from "./auth/passwords.ts";
import type { AccountChange } from "./users-service.ts";

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
 * Makes an account change at start-up as users.update makes its own (followAccountChange):
 * `write` writes the account's row (false: it changed nothing), and in the same transaction
 * sessions end with a password or role change and, with `revokeKeys`, its API keys are
 * revoked; once committed every instance reads the user again. A failure leaves none of it:
 * a recovery whose new password was lost (its file not written) is done again at the next
 * start, instead of leaving an enabled SuperAdmin no one can sign in as and its old keys
 * acting. Answers how many keys were revoked, or null when `write` changed nothing.
 */
export type AccountChanged = (userId: string, change: AccountChange, write: (tx: Prisma.TransactionClient) => Promise<boolean>) => Promise<number | null>;

/** Another instance's create of the same email committed first. */
const isUniqueViolation = (error: unknown) => error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";

/**
 * Makes sure an enabled SuperAdmin exists, so a fleet can always be administered after a
 * start. With SUPERADMIN_EMAIL/PASSWORD the account is created or brought in line with them
 * (env is the source of truth: made SuperAdmin, enabled, its password the configured one),
 * with a log line naming each change; its API keys are kept (the operator chose the account).
 * Without them, and only when no *enabled* SuperAdmin exists (none yet, or every one
 * disabled), the generated account is created — or, when it exists disabled, re-enabled as a
 * SuperAdmin with every API key of it revoked — with a new random password written to a 0600
 * file; a warn line says which. Without the variables no enabled account is ever changed: a
 * generated account that is enabled with another role is left alone, with an error line
 * asking for SUPERADMIN_EMAIL/PASSWORD; other SuperAdmins stay disabled.
 *
 * Instances starting at once on one database each find no SuperAdmin; only one recovers it
 * (the re-enable is conditional on the row still being disabled, the create on the unique
 * email) and writes the credentials file, the others log that another instance did.
 */
export async function bootstrapSuperAdmin(opts: {
  prisma: PrismaClient;
  email: string | undefined;
  password: string | undefined;
  dataDir: string;
  log: Logger;
  changed: AccountChanged;
}): Promise<void> {
  const { prisma, log, changed } = opts;
  if (opts.email && opts.password) {
    const email = opts.email.toLowerCase();
    const existing = await prisma.user.findUnique({ where: { email } });
    if (!existing) {
      try {
        await prisma.user.create({ data: { email, passwordHash: await hashPassword(opts.password), role: "SUPERADMIN" } });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Same variables, same account: the instance that won made it as this one would have.
        log.info({ email }, "the SUPERADMIN_EMAIL account was created by another instance starting at the same time");
        return;
      }
      log.info({ email }, "created SuperAdmin from SUPERADMIN_EMAIL");
      return;
    }
    const passwordMatches = await verifyPassword(existing.passwordHash, opts.password);
    const roleChanged = existing.role !== "SUPERADMIN";
    const changes = [
      ...(existing.disabled ? ["re-enabled"] : []),
      ...(roleChanged ? [`made SuperAdmin (was ${existing.role})`] : []),
      ...(passwordMatches ? [] : ["password set to SUPERADMIN_PASSWORD"]),
    ];
    if (changes.length === 0) return;
    const data = { role: "SUPERADMIN" as const, disabled: false, ...(passwordMatches ? {} : { passwordHash: await hashPassword(opts.password) }) };
    // Its API keys are kept, as an enable through users.update keeps them: setting the
    // variables is the operator's deliberate choice of this account.
    const written = await changed(
      existing.id,
      { roleChanged, passwordChanged: !passwordMatches, ...(existing.disabled ? { disabled: false } : {}) },
      async (tx) => (await tx.user.updateMany({ where: { id: existing.id }, data })).count > 0,
    );
    // Deleted since it was read (by hand): the next start creates it.
    if (written === null) return;
    log.warn({ email, changes }, `updated the SUPERADMIN_EMAIL account to match SUPERADMIN_EMAIL/SUPERADMIN_PASSWORD: ${changes.join(", ")}`);
    return;
  }
  if ((await prisma.user.count({ where: { role: "SUPERADMIN", disabled: false } })) > 0) return;
  const disabledSuperAdmins = await prisma.user.count({ where: { role: "SUPERADMIN", disabled: true } });
  const existing = await prisma.user.findUnique({ where: { email: GENERATED_SUPERADMIN_EMAIL } });
  if (existing && !existing.disabled) {
    // Someone signs in with it (as an ADMIN or USER now): neither its password nor its role
    // is changed behind their back. The operator chooses the account to recover.
    log.error(
      { email: GENERATED_SUPERADMIN_EMAIL, role: existing.role, disabledSuperAdmins },
      `no enabled SuperAdmin, and ${GENERATED_SUPERADMIN_EMAIL} is an enabled ${existing.role} account, left as it is: set SUPERADMIN_EMAIL and SUPERADMIN_PASSWORD to recover a SuperAdmin`,
    );
    return;
  }
  const password = randomBytes(18).toString("base64url");
  const passwordHash = await hashPassword(password);
  const path = join(opts.dataDir, "superadmin-credentials.txt");
  // Written before the account's change commits, inside its transaction: a file that cannot
  // be written rolls the change back, so the next start recovers the account again instead
  // of seeing an enabled SuperAdmin whose password nobody has. A commit that fails after the
  // write only leaves an unused password in the file, which the next recovery replaces.
  const writeCredentials = () => writeCredentialsFile(opts.dataDir, path, password);
  const lost = () =>
    log.info({ email: GENERATED_SUPERADMIN_EMAIL }, `${GENERATED_SUPERADMIN_EMAIL} was recovered by another instance starting at the same time: its credentials file is in that instance's DATA_DIR`);
  let what: string;
  let keysRevoked = 0;
  if (existing) {
    // The generated account, disabled: enabled again as a SuperAdmin, with a new password
    // (the one in an old credentials file may have been why it was disabled). Only while it
    // is still disabled: of instances starting at once, the one whose write lands recovers it
    // and writes the file; the others leave the winner's file alone.
    // No operator chose this: keys made before the disable, perhaps the reason for it, would
    // act again, now as a SuperAdmin. Whoever signs in with the new password makes new ones.
    // All in one transaction with the row's write: a failure leaves the account disabled, for
    // the next start to recover.
    const revoked = await changed(
      existing.id,
      { roleChanged: existing.role !== "SUPERADMIN", disabled: false, passwordChanged: true, revokeKeys: true, reason: "superadmin recovery" },
      async (tx) => {
        const updated = await tx.user.updateMany({ where: { id: existing.id, disabled: true }, data: { role: "SUPERADMIN", disabled: false, passwordHash } });
        if (updated.count === 0) return false;
        await writeCredentials();
        return true;
      },
    );
    if (revoked === null) return lost();
    keysRevoked = revoked;
    what = `re-enabled ${GENERATED_SUPERADMIN_EMAIL} as SuperAdmin (it was a disabled ${existing.role}) with a new random password, and revoked its ${keysRevoked} API key${keysRevoked === 1 ? "" : "s"}`;
  } else {
    try {
      await prisma.$transaction(async (tx) => {
        await tx.user.create({ data: { email: GENERATED_SUPERADMIN_EMAIL, passwordHash, role: "SUPERADMIN" } });
        await writeCredentials();
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return lost();
    }
    what = "created a SuperAdmin with a random password";
  }
  const why = disabledSuperAdmins > 0 ? `no enabled SuperAdmin (${disabledSuperAdmins} disabled): ` : "";
  log.warn({ path, email: GENERATED_SUPERADMIN_EMAIL, disabledSuperAdmins, ...(existing ? { keysRevoked } : {}) }, `${why}${what}; read it from this file`);
}

/**
 * Writes the generated account's credentials (0600) to a file beside `path`, then renames it
 * over `path`: a failed write leaves the previous file whole. Throws one clear line.
 */
async function writeCredentialsFile(dataDir: string, path: string, password: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await mkdir(dataDir, { recursive: true });
    await writeFile(temp, `email: ${GENERATED_SUPERADMIN_EMAIL}\npassword: ${password}\n`, { mode: 0o600 });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw new Error(`could not write the SuperAdmin credentials file ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
