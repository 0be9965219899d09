/**
 * Single sign-on: who an outside provider (an OpenID Connect issuer, GitHub) vouched for
 * becomes a Switchboard user and a session. A known identity signs in as its user; a new one
 * is linked to the user with the same verified email, or provisions a new user with the
 * default role. The session is the same as a password session (refresh rotation,
 * revocation). The protocols themselves live with the transport (http/sso/).
 */
import { randomBytes } from "node:crypto";
import type { TAuthMethods, TAuthTokens } from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.ts";
import { AppError } from "../errors.ts";
import type { AuthService, ClientInfo } from "./auth-service.ts";
import { hashPassword } from "./passwords.ts";

export type SsoProvider = "oidc" | "github";

export interface ExternalIdentity {
  provider: SsoProvider;
  /** The provider's stable id of the person. */
  subject: string;
  email: string | null;
  emailVerified: boolean;
}

export interface SsoServiceDeps {
  prisma: PrismaClient;
  auth: Pick<AuthService, "startSession">;
  /** Email domains allowed to sign in (empty: any). */
  allowedDomains: readonly string[];
  defaultRole: "USER" | "ADMIN";
  enabled: { oidc: boolean; github: boolean };
}

/** Said on the sign-in page when the account changed while the provider was answering. */
const ACCOUNT_CHANGED = "Your account changed while signing in; sign in again.";

const isUniqueViolation = (error: unknown) => error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";

export function createSsoService(deps: SsoServiceDeps) {
  const { prisma } = deps;

  function checkDomain(email: string | null, verified: boolean): void {
    if (deps.allowedDomains.length === 0) return;
    const domain = email?.split("@")[1];
    if (!email || !verified || !domain || !deps.allowedDomains.includes(domain)) {
      throw new AppError("FORBIDDEN", `Sign-in is limited to verified addresses at ${deps.allowedDomains.join(", ")}`);
    }
  }

  /** The user a new identity belongs to: the one with its verified email, or a new one. */
  async function userForNewIdentity(email: string | null, verified: boolean) {
    if (!email || !verified) throw new AppError("FORBIDDEN", "The provider did not give a verified email address");
    const existing = await prisma.user.findUnique({ where: { email } });
    if (existing) return existing;
    try {
      // No password signs in to this account (a random one nobody knows); an admin may set one.
      const passwordHash = await hashPassword(randomBytes(32).toString("base64url"));
      return await prisma.user.create({ data: { email, passwordHash, role: deps.defaultRole } });
    } catch (error) {
      // Two first sign-ins at once: the other one created it.
      if (isUniqueViolation(error)) return prisma.user.findUniqueOrThrow({ where: { email } });
      throw error;
    }
  }

  /** Refused before anything is written: a refused sign-in changes nothing (no link, no lastUsedAt). */
  function refuseDisabled(user: { disabled: boolean }): void {
    if (user.disabled) throw new AppError("FORBIDDEN", "This account is disabled");
  }

  /**
   * The identity's writes (its link, lastUsedAt) go in the session's transaction, after the
   * account was found unchanged: an account disabled, demoted or given a new password while
   * the provider was answering refuses the sign-in, and then nothing of it is written.
   */
  async function signIn(identity: ExternalIdentity, client: ClientInfo): Promise<TAuthTokens> {
    const email = identity.email?.trim().toLowerCase() || null;
    checkDomain(email, identity.emailVerified);
    const key = { provider_subject: { provider: identity.provider, subject: identity.subject } };
    const known = await prisma.identity.findUnique({ where: key, include: { user: true } });
    if (known) {
      refuseDisabled(known.user);
      return deps.auth.startSession(known.user, client, {
        whenChanged: ACCOUNT_CHANGED,
        alongside: (tx) => tx.identity.update({ where: { id: known.id }, data: { lastUsedAt: new Date(), email } }),
      });
    }
    const user = await userForNewIdentity(email, identity.emailVerified);
    refuseDisabled(user);
    return deps.auth.startSession(user, client, {
      whenChanged: ACCOUNT_CHANGED,
      // skipDuplicates (ON CONFLICT DO NOTHING): the same first sign-in twice at once, the other
      // one linked it; a unique violation would abort the transaction and so the session.
      alongside: (tx) => tx.identity.createMany({ data: [{ userId: user.id, provider: identity.provider, subject: identity.subject, email }], skipDuplicates: true }),
    });
  }

  /** What the sign-in page offers. */
  function methods(): TAuthMethods {
    return { password: true, oidc: deps.enabled.oidc, github: deps.enabled.github };
  }

  return { signIn, methods };
}

export type SsoService = ReturnType<typeof createSsoService>;
