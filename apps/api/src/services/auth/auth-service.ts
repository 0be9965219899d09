import { randomUUID } from "node:crypto";
import { storableText, ZAuthTokens, type TAuthTokens, type TLoginInput, type TUser } from "@switchboard/schema";
import type { Prisma, PrismaClient, User } from "../../generated/prisma/client.ts";
import { createMemoryCoordination } from "../../infra/coordination/memory.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { AppError } from "../errors.ts";
import type { AccessClaims, AccessTokens } from "./access-tokens.ts";
import type { PasswordWork } from "./password-work.ts";
import { hashRefreshToken, newRefreshToken, openForToken, sameHash, sealForToken, sessionIdOf } from "./refresh-tokens.ts";
import type { SessionRevocations } from "./revocations.ts";
import type { UserDirectory } from "./user-directory.ts";
import { toUserView } from "./user-view.ts";

export interface AuthServiceDeps {
  prisma: PrismaClient;
  coordination: Coordination;
  accessTokens: AccessTokens;
  revocations: SessionRevocations;
  directory: UserDirectory;
  passwords: PasswordWork;
  refreshTtlSec: number;
  /** Failed logins allowed per minute per account, and per client IP. */
  loginLimits: { perAccount: number; perIp: number };
  /** How long a just-rotated refresh token still answers with the same new pair. */
  refreshGraceMs?: number | undefined;
}

export interface ClientInfo {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** The account as its sign-in checked it: a session starts only while it is still so (see startSession). */
export type CheckedUser = Pick<User, "id" | "passwordHash" | "role">;

/** Said to a password sign-in whose account changed while it was checked; the same words as a wrong password, so nothing is learnt. */
const PASSWORD_ACCOUNT_CHANGED = "Invalid email or password";

/** How a sign-in other than by password starts its session (see startSession). */
export interface SessionStart {
  /** Written in the session's transaction: a sign-in refused there leaves none of it behind. */
  alongside?: (tx: Prisma.TransactionClient) => Promise<unknown>;
  /** What the sign-in is told when its account changed meanwhile (a password one: a wrong password's words). */
  whenChanged?: string;
}

/** How many rotated refresh hashes a session remembers for reuse detection. */
const REMEMBERED_ROTATIONS = 20;
export const REFRESH_GRACE_MS = 10_000;
const LOGIN_WINDOW_MS = 60_000;

type Reservation = Array<[key: string, limit: number]>;

export function createAuthService(deps: AuthServiceDeps) {
  const { prisma, accessTokens, revocations, directory, passwords, coordination } = deps;
  const graceMs = deps.refreshGraceMs ?? REFRESH_GRACE_MS;

  async function issueTokens(user: { id: string; email: string; role: TUser["role"] }, sessionId: string) {
    return accessTokens.sign({ userId: user.id, email: user.email, role: user.role, sessionId });
  }

  /**
   * Brute-force protection. Each attempt first reserves a slot in the account's and the
   * client IP's per-minute counters with one atomic increment each, *before* any password
   * is checked, so concurrent attempts (a batch, parallel requests, several instances) each
   * see a distinct count and at most `limit` of them are ever verified in a window. Only
   * failures keep their slot: a successful sign-in and a refused attempt give theirs back,
   * so a user who signs in often is never locked out.
   */
  async function reserveAttempt(limits: Reservation): Promise<Reservation> {
    const counts = await Promise.all(limits.map(([key]) => incr(key, 1)));
    if (counts.some((n, i) => n > limits[i]![1])) {
      await release(limits);
      throw new AppError("TOO_MANY_REQUESTS", "Too many failed sign-in attempts; try again later", { retryAfterSec: 60 });
    }
    return limits;
  }

  async function release(limits: Reservation): Promise<void> {
    await Promise.all(limits.map(([key]) => incr(key, -1))).catch(() => {});
  }

  /**
   * While coordination is unreachable the counters fall back to this instance's memory: the
   * limit then holds per instance instead of fleet-wide, but sign-in keeps working (an
   * operator may need it for the emergency stop exactly then) and is never unlimited.
   */
  const localCounters = createMemoryCoordination({ log: () => {} });
  async function incr(key: string, by: number): Promise<number> {
    try {
      return await coordination.incr(key, by, { ttlMs: LOGIN_WINDOW_MS });
    } catch {
      return localCounters.incr(key, by, { ttlMs: LOGIN_WINDOW_MS });
    }
  }

  async function login(input: TLoginInput, client: ClientInfo): Promise<TAuthTokens> {
    const reservation = await reserveAttempt([
      [`auth:login-fail:acct:${input.email}`, deps.loginLimits.perAccount],
      [`auth:login-fail:ip:${client.ip ?? "unknown"}`, deps.loginLimits.perIp],
    ]);
    let user;
    let ok: boolean;
    try {
      user = await prisma.user.findUnique({ where: { email: input.email } });
      ok = user ? await passwords.verify(user.passwordHash, input.password) : await passwords.dummyVerify(input.password);
    } catch (error) {
      // Not an answer about the password (busy queue, database down): the slot goes back.
      await release(reservation);
      throw error;
    }
    if (!user || !ok || user.disabled) {
      // One message for every cause, so a caller cannot tell which accounts exist.
      throw new AppError("UNAUTHORIZED", "Invalid email or password");
    }
    await release(reservation);
    return startSession(user, client);
  }

  /**
   * A new session for a user who proved who they are (a password above, or a single sign-on
   * provider): the same tokens, cookies, refresh rotation and revocation either way.
   *
   * It starts only if the account is still as it was when that proof was checked (the same
   * password hash and role, still enabled). A password reset, demotion or disable ends every
   * session it finds; one written after it, by a sign-in that checked the old password while
   * the change landed, would outlive it: someone holding a leaked password and signing in
   * again and again kept a session through the reset meant to shut them out. The condition
   * is on the row the change writes first, so either this session exists before the change
   * ends them all, or the change is seen here and the sign-in is refused.
   */
  async function startSession(user: CheckedUser, client: ClientInfo, how: SessionStart = {}): Promise<TAuthTokens> {
    const sessionId = randomUUID();
    const refresh = newRefreshToken(sessionId);
    const asChecked = { id: user.id, passwordHash: user.passwordHash, role: user.role, disabled: false };
    // One UPDATE … WHERE (the condition checked against the row as it is when the statement
    // gets it, after any change holding it has committed), and the session only if it matched.
    const updated = await prisma.$transaction(async (tx) => {
      const [row] = await tx.user.updateManyAndReturn({ where: asChecked, data: { lastLoginAt: new Date() } });
      if (!row) throw new AppError("UNAUTHORIZED", how.whenChanged ?? PASSWORD_ACCOUNT_CHANGED);
      await how.alongside?.(tx);
      await tx.session.create({
        data: {
          id: sessionId,
          userId: user.id,
          refreshTokenHash: refresh.hash,
          ip: client.ip ?? null,
          userAgent: client.userAgent ? storableText(client.userAgent).slice(0, 500) : null,
          expiresAt: new Date(Date.now() + deps.refreshTtlSec * 1000),
        },
      });
      return row;
    });
    return {
      accessToken: await issueTokens(updated, sessionId),
      refreshToken: refresh.token,
      expiresIn: accessTokens.ttlSec,
      user: toUserView(updated),
    };
  }

  const graceKeyOf = (token: string) => `auth:refresh-grace:${hashRefreshToken(token)}`;

  /** The pair a rotation of `token` produced within the grace window, if any. */
  async function pairFromGrace(token: string): Promise<TAuthTokens | null> {
    const sealed = await coordination.get(graceKeyOf(token)).catch(() => null);
    const opened = sealed ? openForToken(token, sealed) : null;
    if (!opened) return null;
    const parsed = ZAuthTokens.safeParse(JSON.parse(opened));
    return parsed.success ? parsed.data : null;
  }

  /**
   * Rotates the refresh token. Two tabs refreshing at once with the same token both get the
   * same new pair: the first rotation is remembered (sealed, see sealForToken) for a short
   * grace window. Presenting a rotated token after that window means it leaked: the whole
   * session is revoked.
   */
  async function refresh(refreshToken: string): Promise<TAuthTokens> {
    const invalid = new AppError("UNAUTHORIZED", "Invalid or expired refresh token");
    const sessionId = sessionIdOf(refreshToken);
    if (!sessionId) throw invalid;
    const session = await prisma.session.findUnique({ where: { id: sessionId }, include: { user: true } });
    if (!session || session.revokedAt || session.expiresAt < new Date() || session.user.disabled) throw invalid;
    const presented = hashRefreshToken(refreshToken);
    if (!sameHash(presented, session.refreshTokenHash)) {
      if (session.previousHashes.some((h) => sameHash(h, presented))) {
        const again = await pairFromGrace(refreshToken);
        if (again) return again;
        await revokeSession(session.id, "refresh token reuse detected");
      }
      throw invalid;
    }
    const next = newRefreshToken(session.id);
    const pair: TAuthTokens = {
      accessToken: await issueTokens(session.user, session.id),
      refreshToken: next.token,
      expiresIn: accessTokens.ttlSec,
      user: toUserView(session.user),
    };
    // Claim this rotation: of concurrent refreshes with the same token, the first to store
    // its sealed pair rotates, the others answer with that pair.
    let claimed = true;
    try {
      claimed = await coordination.setIfAbsent(graceKeyOf(refreshToken), sealForToken(refreshToken, JSON.stringify(pair)), {
        ttlMs: graceMs,
      });
    } catch {
      // Coordination unreachable: no grace window, the database's conditional update below
      // still lets only one rotation win.
    }
    if (!claimed) {
      // The concurrent winner stored its pair before writing the row.
      const again = await pairFromGrace(refreshToken);
      if (again) return again;
      throw invalid;
    }
    // Conditional update: of two concurrent refreshes with the same token only one wins.
    const rotated = await prisma.session.updateMany({
      where: { id: session.id, refreshTokenHash: session.refreshTokenHash, revokedAt: null },
      data: {
        refreshTokenHash: next.hash,
        previousHashes: [session.refreshTokenHash, ...session.previousHashes].slice(0, REMEMBERED_ROTATIONS),
        lastUsedAt: new Date(),
      },
    });
    if (rotated.count !== 1) {
      await coordination.del(graceKeyOf(refreshToken)).catch(() => {});
      throw invalid;
    }
    return pair;
  }

  async function revokeSession(sessionId: string, reason: string): Promise<void> {
    await prisma.session.updateMany({
      where: { id: sessionId, revokedAt: null },
      data: { revokedAt: new Date(), revokedReason: reason },
    });
    await revocations.revokeSessions([sessionId]);
  }

  /** The session a refresh token belongs to, revoked or not; null for a token of none. */
  async function sessionOfRefreshToken(refreshToken: string): Promise<{ id: string; revokedAt: Date | null } | null> {
    const id = sessionIdOf(refreshToken);
    if (!id) return null;
    const session = await prisma.session.findUnique({ where: { id }, select: { id: true, revokedAt: true, refreshTokenHash: true } });
    return session && sameHash(session.refreshTokenHash, hashRefreshToken(refreshToken)) ? session : null;
  }

  /** Ends the session of the presented access token (and of the refresh token, if given). */
  async function logout(claims: Pick<AccessClaims, "sessionId"> | null, refreshToken?: string): Promise<void> {
    const ids = new Set<string>();
    if (claims) ids.add(claims.sessionId);
    const fromRefresh = refreshToken ? await sessionOfRefreshToken(refreshToken) : null;
    if (fromRefresh) ids.add(fromRefresh.id);
    await Promise.all([...ids].map((id) => revokeSession(id, "logout")));
  }

  /** True when the refresh token belongs to a session not yet ended (it may still sign out). */
  async function holdsOpenSession(refreshToken: string): Promise<boolean> {
    const session = await sessionOfRefreshToken(refreshToken);
    return session !== null && session.revokedAt === null;
  }

  /**
   * Ends every open session of a user (disable, password reset, role change), in the
   * transaction that writes the change (users-service.ts): answers the ids of the sessions it
   * ended, for sessionsEnded once that transaction commits.
   */
  async function endSessionsIn(tx: Pick<Prisma.TransactionClient, "session">, userId: string, reason: string): Promise<string[]> {
    const ended = await tx.session.updateManyAndReturn({ where: { userId, revokedAt: null }, data: { revokedAt: new Date(), revokedReason: reason }, select: { id: true } });
    return ended.map((s) => s.id);
  }

  /** After the sessions' rows were marked ended: every instance refuses them and reads the user again. */
  async function sessionsEnded(userId: string, sessionIds: string[]): Promise<void> {
    await revocations.revokeSessions(sessionIds);
    await directory.changed(userId);
  }

  /**
   * Verifies an access token fully: signature and claims, the session not revoked, the user
   * still existing, enabled and in the token's role. Every check reads local state only.
   * Null when not valid.
   */
  async function authenticate(token: string): Promise<AccessClaims | null> {
    const claims = await accessTokens.verify(token);
    if (!claims) return null;
    if (revocations.isRevoked(claims.sessionId)) return null;
    const live = await directory.get(claims.userId);
    if (!live || live.disabled || live.role !== claims.role) return null;
    return claims;
  }

  /** After a user's row changed or was deleted: every instance re-reads it before trusting it again. */
  async function userChanged(userId: string): Promise<void> {
    await directory.changed(userId);
  }

  /** True when the user's row is still there (read from the database, for error paths). */
  async function userExists(userId: string): Promise<boolean> {
    return (await directory.reread(userId)) !== null;
  }

  async function me(userId: string): Promise<TUser> {
    const user = await prisma.user.findUnique({ where: { id: userId } });
    if (!user || user.disabled) throw new AppError("UNAUTHORIZED", "Account no longer active");
    return toUserView(user);
  }

  return { login, startSession, refresh, logout, holdsOpenSession, authenticate, me, endSessionsIn, sessionsEnded, userExists, userChanged };
}

export type AuthService = ReturnType<typeof createAuthService>;
