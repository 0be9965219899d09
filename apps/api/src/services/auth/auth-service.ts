import { randomUUID } from "node:crypto";
import type { TAuthTokens, TLoginInput, TUser } from "@switchboard/schema";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { AppError } from "../errors.ts";
import type { AccessClaims, AccessTokens } from "./access-tokens.ts";
import { dummyVerify, verifyPassword } from "./passwords.ts";
import { hashRefreshToken, newRefreshToken, sameHash, sessionIdOf } from "./refresh-tokens.ts";
import type { Revocations } from "./revocations.ts";
import { toUserView } from "./user-view.ts";

export interface AuthServiceDeps {
  prisma: PrismaClient;
  coordination: Coordination;
  accessTokens: AccessTokens;
  revocations: Revocations;
  refreshTtlSec: number;
  /** Failed logins allowed per minute per account, and per client IP. */
  loginLimits: { perAccount: number; perIp: number };
}

export interface ClientInfo {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** How many rotated refresh hashes a session remembers for reuse detection. */
const REMEMBERED_ROTATIONS = 20;

export function createAuthService(deps: AuthServiceDeps) {
  const { prisma, accessTokens, revocations } = deps;

  async function issueTokens(user: { id: string; email: string; role: TUser["role"] }, sessionId: string) {
    return accessTokens.sign({ userId: user.id, email: user.email, role: user.role, sessionId });
  }

  /**
   * Brute-force protection counts failed attempts only, so a user who signs in often is
   * never locked out, while guessing stops after `loginLimitPerMin` failures a minute.
   */
  async function assertLoginAllowed(limits: Array<[key: string, limit: number]>): Promise<void> {
    for (const [key, limit] of limits) {
      const count = Number((await deps.coordination.get(key)) ?? "0");
      if (count >= limit) {
        throw new AppError("TOO_MANY_REQUESTS", "Too many failed sign-in attempts; try again later", {
          retryAfterSec: 60,
        });
      }
    }
  }

  async function recordFailure(limits: Array<[key: string, limit: number]>): Promise<void> {
    await Promise.all(limits.map(([key]) => deps.coordination.incr(key, 1, { ttlMs: 60_000 })));
  }

  async function login(input: TLoginInput, client: ClientInfo): Promise<TAuthTokens> {
    const limitKeys: Array<[string, number]> = [
      [`auth:login-fail:acct:${input.email}`, deps.loginLimits.perAccount],
      [`auth:login-fail:ip:${client.ip ?? "unknown"}`, deps.loginLimits.perIp],
    ];
    await assertLoginAllowed(limitKeys);
    const user = await prisma.user.findUnique({ where: { email: input.email } });
    const ok = user ? await verifyPassword(user.passwordHash, input.password) : await dummyVerify(input.password);
    if (!user || !ok || user.disabled) {
      await recordFailure(limitKeys);
      // One message for every cause, so a caller cannot tell which accounts exist.
      throw new AppError("UNAUTHORIZED", "Invalid email or password");
    }
    const sessionId = randomUUID();
    const refresh = newRefreshToken(sessionId);
    const [updated] = await prisma.$transaction([
      prisma.user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } }),
      prisma.session.create({
        data: {
          id: sessionId,
          userId: user.id,
          refreshTokenHash: refresh.hash,
          ip: client.ip ?? null,
          userAgent: client.userAgent?.slice(0, 500) ?? null,
          expiresAt: new Date(Date.now() + deps.refreshTtlSec * 1000),
        },
      }),
    ]);
    return {
      accessToken: await issueTokens(updated, sessionId),
      refreshToken: refresh.token,
      expiresIn: accessTokens.ttlSec,
      user: toUserView(updated),
    };
  }

  /** Rotates the refresh token. Presenting an already-rotated token revokes the session. */
  async function refresh(refreshToken: string): Promise<TAuthTokens> {
    const invalid = new AppError("UNAUTHORIZED", "Invalid or expired refresh token");
    const sessionId = sessionIdOf(refreshToken);
    if (!sessionId) throw invalid;
    const session = await prisma.session.findUnique({ where: { id: sessionId }, include: { user: true } });
    if (!session || session.revokedAt || session.expiresAt < new Date() || session.user.disabled) throw invalid;
    const presented = hashRefreshToken(refreshToken);
    if (!sameHash(presented, session.refreshTokenHash)) {
      if (session.previousHashes.some((h) => sameHash(h, presented))) {
        await revokeSession(session.id, "refresh token reuse detected");
      }
      throw invalid;
    }
    const next = newRefreshToken(session.id);
    // Conditional update: of two concurrent refreshes with the same token only one wins.
    const rotated = await prisma.session.updateMany({
      where: { id: session.id, refreshTokenHash: session.refreshTokenHash, revokedAt: null },
      data: {
        refreshTokenHash: next.hash,
        previousHashes: [session.refreshTokenHash, ...session.previousHashes].slice(0, REMEMBERED_ROTATIONS),
        lastUsedAt: new Date(),
      },
    });
    if (rotated.count !== 1) throw invalid;
    return {
      accessToken: await issueTokens(session.user, session.id),
      refreshToken: next.token,
      expiresIn: accessTokens.ttlSec,
      user: toUserView(session.user),
    };
  }

  async function revokeSession(sessionId: string, reason: string): Promise<void> {
    await prisma.session.updateMany({
      where: { id: sessionId, revokedAt: null },
      data: { revokedAt: new Date(), revokedReason: reason },
    });
    await revocations.revokeSession(sessionId);
  }

  /** Ends the session of the presented access token (and of the refresh token, if given). */
  async function logout(claims: Pick<AccessClaims, "sessionId"> | null, refreshToken?: string): Promise<void> {
    const ids = new Set<string>();
    if (claims) ids.add(claims.sessionId);
    const fromRefresh = refreshToken ? sessionIdOf(refreshToken) : null;
    if (fromRefresh) {
      const session = await prisma.session.findUnique({ where: { id: fromRefresh } });
      if (session && sameHash(session.refreshTokenHash, hashRefreshToken(refreshToken!))) ids.add(session.id);
    }
    await Promise.all([...ids].map((id) => revokeSession(id, "logout")));
  }

  /** Revokes every session and access token of a user (disable, password reset, role change). */
  async function revokeAllForUser(userId: string, reason: string): Promise<void> {
    await prisma.session.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date(), revokedReason: reason } });
    await revocations.revokeUserTokens(userId);
  }

  /** Verifies an access token fully: signature, claims, revocation. Null when not valid. */
  async function authenticate(token: string): Promise<AccessClaims | null> {
    const claims = await accessTokens.verify(token);
    if (!claims) return null;
    let revoked: boolean;
    try {
      revoked = await revocations.isRevoked(claims);
    } catch {
      // Coordination unreachable. Every revocation is also on the session row in PostgreSQL
      // (logout, reuse detection; disable/role change/password reset revoke all sessions),
      // so ask it instead: signing everyone out during a Redis outage would also keep a
      // SuperAdmin from using the emergency stop exactly when it is needed.
      revoked = !(await sessionStillValid(claims));
    }
    return revoked ? null : claims;
  }

  async function sessionStillValid(claims: AccessClaims): Promise<boolean> {
    const session = await prisma.session.findUnique({ where: { id: claims.sessionId }, include: { user: true } });
    return (
      session !== null &&
      session.revokedAt === null &&
      session.userId === claims.userId &&
      !session.user.disabled &&
      session.user.role === claims.role
    );
  }

  async function me(userId: string): Promise<TUser> {
    const user = await prisma.user.findUnique({ where: { id: userId } });
    if (!user || user.disabled) throw new AppError("UNAUTHORIZED", "Account no longer active");
    return toUserView(user);
  }

  return { login, refresh, logout, authenticate, me, revokeAllForUser };
}

export type AuthService = ReturnType<typeof createAuthService>;
