/**
 * A signed-in WebSocket is closed as soon as its token stops acting — the session revoked
 * (sign-out, a revoked refresh family, password reset), the user disabled, deleted or
 * re-roled, the API key revoked — not at its next call. An idle socket would otherwise stay
 * open, and look signed in, until then. The socket's credential is watched like a running
 * stream's (services/auth/credential-watch.ts), so the end arrives on every instance with
 * the revocation's push, with no polling.
 *
 * When the watch fires, the token is resolved again, as the next call would resolve it: a
 * change that leaves it acting (an API key's owner re-roled: the key acts with the new role)
 * keeps the socket open and is watched on with the new role. Only a token that no longer
 * resolves ends the socket. Streams still running on it end with their own refusal first
 * (their procedure watches the same credential); the socket is closed once the last of them
 * is over, so their error still reaches the client before the close.
 *
 * A token also stops acting by itself, with nothing revoked and so nothing pushed: an access
 * token at its `exp`, an API key at its `expiresAt` (a key without one never). A timer set for
 * that moment resolves the token again and, when it no longer acts, ends the socket as above
 * (after its running streams) with TOKEN_EXPIRED_CLOSE, so the client refreshes its token and
 * reconnects rather than signing in again.
 * A token presented later on the socket (/ws/chat's `auth` message) moves the timer to its
 * own expiry; so does an API key whose expiry was changed by the time the timer fires.
 */
import type { WebSocket } from "ws";
import type { AppDeps } from "../../deps.ts";
import { SESSION_ENDED_MESSAGE } from "../../services/auth/credential-watch.ts";
import { credentialOf, resolveUser, type AuthedUser } from "../../trpc/context.ts";
import { SESSION_ENDED_CLOSE, TOKEN_EXPIRED_CLOSE, TOKEN_EXPIRED_MESSAGE } from "./socket-auth.ts";

/** Why a socket's token stopped acting: the close it gets, and the words of the error sent before it. */
export interface SocketEnd {
  close: { code: number; reason: string };
  message: string;
}

const SESSION_ENDED: SocketEnd = { close: SESSION_ENDED_CLOSE, message: SESSION_ENDED_MESSAGE };
const TOKEN_EXPIRED: SocketEnd = { close: TOKEN_EXPIRED_CLOSE, message: TOKEN_EXPIRED_MESSAGE };

/** setTimeout's longest delay (about 24.8 days); a key expiring later is waited for in steps. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export interface SessionClose {
  /** Watches the socket's token from now on (instead of any watched before); `user` when just resolved. */
  follow(token: string, user?: AuthedUser): void;
  /** A stream starts on the socket; call the returned function when it is over (idempotent). */
  streamStarted(): () => void;
}

/** `ended` runs at most once, when the socket's token no longer acts and no stream runs on it. */
export function closeOnSessionEnd(deps: AppDeps, socket: WebSocket, ended: (why: SocketEnd) => void): SessionClose {
  let token: string | undefined;
  let unwatch: (() => void) | undefined;
  let expiry: NodeJS.Timeout | undefined;
  let running = 0;
  let tokenEnded: SocketEnd | undefined;
  let done = false;

  const open = () => !done && socket.readyState === socket.OPEN;
  const finish = () => {
    if (!tokenEnded || running > 0 || done) return;
    done = true;
    if (socket.readyState === socket.OPEN) ended(tokenEnded);
  };
  const stopWatching = () => {
    unwatch?.();
    unwatch = undefined;
    clearTimeout(expiry);
    expiry = undefined;
  };

  function watch(watched: string, user: AuthedUser): void {
    stopWatching();
    // It acts now: a socket that was to close for an earlier token (a chat still running) stays.
    tokenEnded = undefined;
    unwatch = deps.credentials.onEnd(credentialOf(user), user.changesSeen, () => {
      unwatch = undefined;
      if (token === watched) void recheck(watched, true);
    });
    if (user.expiresAtMs != null) expireAt(watched, user.expiresAtMs);
  }

  function expireAt(watched: string, atMs: number): void {
    const wait = Math.min(Math.max(0, atMs - Date.now()), LONGEST_TIMER_MS);
    // Unref'd: an open socket holds the process up, not its timer.
    expiry = setTimeout(() => {
      expiry = undefined;
      if (!open() || token !== watched) return;
      // Not there yet (a wait in steps, or a timer a millisecond early): wait on.
      if (Date.now() < atMs) return expireAt(watched, atMs);
      void recheck(watched, true, atMs);
    }, wait).unref();
  }

  /**
   * Resolves the token again; `wasActing`: it acted until now, so not resolving ends the socket.
   * `expiredAt`: the check is the token's expiry, when it ends the socket as expired.
   */
  async function recheck(watched: string, wasActing: boolean, expiredAt?: number): Promise<void> {
    let user: AuthedUser | null;
    try {
      user = await resolveUser(deps, watched);
    } catch {
      // Not checkable now (the database is unavailable): the next call decides, as before.
      // Past the expiry it knew, though, only a key's new expiry could have kept it acting.
      if (expiredAt === undefined) return;
      user = null;
    }
    if (!open() || token !== watched) return;
    if (user) return watch(watched, user);
    // A token refused from the start is answered by the socket's first call, as before.
    if (!wasActing) return;
    tokenEnded = expiredAt !== undefined ? TOKEN_EXPIRED : SESSION_ENDED;
    finish();
  }

  socket.once("close", () => {
    done = true;
    stopWatching();
  });

  return {
    follow(next, user) {
      if (!open()) return;
      token = next;
      if (user) watch(next, user);
      else void recheck(next, false);
    },
    streamStarted() {
      running++;
      let over = false;
      return () => {
        if (over) return;
        over = true;
        running--;
        finish();
      };
    },
  };
}
