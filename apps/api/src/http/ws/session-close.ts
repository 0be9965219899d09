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
 */
import type { WebSocket } from "ws";
import type { AppDeps } from "../../deps.ts";
import { credentialOf, resolveUser, type AuthedUser } from "../../trpc/context.ts";

export interface SessionClose {
  /** Watches the socket's token from now on (instead of any watched before); `user` when just resolved. */
  follow(token: string, user?: AuthedUser): void;
  /** A stream starts on the socket; call the returned function when it is over (idempotent). */
  streamStarted(): () => void;
}

/** `ended` runs at most once, when the socket's token no longer acts and no stream runs on it. */
export function closeOnSessionEnd(deps: AppDeps, socket: WebSocket, ended: () => void): SessionClose {
  let token: string | undefined;
  let unwatch: (() => void) | undefined;
  let running = 0;
  let tokenEnded = false;
  let done = false;

  const open = () => !done && socket.readyState === socket.OPEN;
  const finish = () => {
    if (!tokenEnded || running > 0 || done) return;
    done = true;
    if (socket.readyState === socket.OPEN) ended();
  };

  function watch(watched: string, user: AuthedUser): void {
    unwatch?.();
    unwatch = deps.credentials.onEnd(credentialOf(user), user.changesSeen, () => {
      unwatch = undefined;
      if (token === watched) void recheck(watched, true);
    });
  }

  /** Resolves the token again; `wasActing`: it acted until now, so not resolving ends the socket. */
  async function recheck(watched: string, wasActing: boolean): Promise<void> {
    let user: AuthedUser | null;
    try {
      user = await resolveUser(deps, watched);
    } catch {
      // Not checkable now (the database is unavailable): the next call decides, as before.
      return;
    }
    if (!open() || token !== watched) return;
    if (user) return watch(watched, user);
    // A token refused from the start is answered by the socket's first call, as before.
    if (!wasActing) return;
    tokenEnded = true;
    finish();
  }

  socket.once("close", () => {
    done = true;
    unwatch?.();
    unwatch = undefined;
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
