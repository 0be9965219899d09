/**
 * What a signed-in caller started and is still running (a subscription, a streaming answer)
 * ends when the credential that authorized it does: its session revoked (sign-out, password
 * reset, role change, disable), its API key revoked, or its user disabled, deleted or
 * re-roled. Nothing is polled: the local stores that every request is checked against already
 * hear of each such change — made here, pushed by another instance, or found by their
 * background resync — and announce it; the watch ends the streams of the credentials named.
 *
 * Registering a stream costs two set insertions and no I/O. Only a change re-checks a
 * credential (a revoked session needs no check; a user or key change reads their current
 * state, as the next request would), once per credential however many streams it holds.
 */
import type { TRole } from "@switchboard/schema";
import type { KeyChange } from "../keys/index.ts";
import type { LiveUser } from "./user-directory.ts";

/** Who a stream runs for: a session's caller, or an API key's (then `keyId`). */
export interface WatchedCredential {
  userId: string;
  /** The role the caller was authorized with. */
  role: TRole;
  /** The session; for an API key, the key stands in for it (`keyId`). */
  sessionId: string;
  keyId?: string | undefined;
}

export interface CredentialWatchDeps {
  sessions: { isRevoked(sessionId: string): boolean; onRevoked(listener: (sessionIds: string[]) => void): () => void };
  users: { get(userId: string): Promise<LiveUser | null>; onChanged(listener: (userId: string) => void): () => void };
  keys: { liveRole(keyId: string): Promise<TRole | null>; onChanged(listener: (change: KeyChange) => void): () => void };
  log: (msg: string, err?: unknown) => void;
}

/**
 * What a caller hears when the credential they signed in with has ended (signed out, expired,
 * revoked, disabled, role changed): a stream it authorized ends with these words, and so is a
 * call refused on a socket opened with it. The same words on every transport, so a client
 * knows to sign in again.
 */
export const SESSION_ENDED_MESSAGE = "Session ended; sign in again";

export interface Watch {
  /** Aborts when the credential ends. */
  signal: AbortSignal;
  /** The stream is over: forget it (idempotent). */
  stop(): void;
}

interface Watcher {
  credential: WatchedCredential;
  id: string;
  controller: AbortController;
}

const ENDED = "credential ended";

export function createCredentialWatch(deps: CredentialWatchDeps) {
  /** Watchers by credential: `session:<id>` or `key:<id>`. */
  const byCredential = new Map<string, Set<Watcher>>();
  const byUser = new Map<string, Set<Watcher>>();
  /** Counts the changes heard: one seen after a caller was resolved may already have ended it. */
  let changes = 0;

  const credentialId = (c: WatchedCredential) => (c.keyId !== undefined ? `key:${c.keyId}` : `session:${c.sessionId}`);

  function stop(watcher: Watcher): void {
    remove(byCredential, watcher.id, watcher);
    remove(byUser, watcher.credential.userId, watcher);
  }

  function end(watchers: Iterable<Watcher>): void {
    for (const watcher of [...watchers]) {
      stop(watcher);
      watcher.controller.abort(new Error(ENDED));
    }
  }

  /** The role the credential acts with now; null when it no longer acts. */
  async function liveRole(credential: WatchedCredential): Promise<TRole | null> {
    if (credential.keyId !== undefined) return deps.keys.liveRole(credential.keyId);
    if (deps.sessions.isRevoked(credential.sessionId)) return null;
    const user = await deps.users.get(credential.userId);
    return user && !user.disabled ? user.role : null;
  }

  /** Ends the streams of each credential named that no longer acts with the role it had. */
  function recheck(ids: Iterable<string>): void {
    for (const id of new Set(ids)) {
      const watchers = byCredential.get(id);
      const sample = watchers?.values().next().value;
      if (!sample) continue;
      liveRole(sample.credential).then(
        (role) => end([...(byCredential.get(id) ?? [])].filter((w) => w.credential.role !== role)),
        (error: unknown) => {
          // Not verifiable now (database unreachable): ended, as the next request would be refused.
          deps.log("a credential could not be re-checked after a change; ending its streams", error);
          end(byCredential.get(id) ?? []);
        },
      );
    }
  }

  const credentialsOf = (userId: string) => [...(byUser.get(userId) ?? [])].map((w) => w.id);

  const offs = [
    deps.sessions.onRevoked((sessionIds) => {
      changes++;
      for (const id of sessionIds) end(byCredential.get(`session:${id}`) ?? []);
    }),
    deps.users.onChanged((userId) => {
      changes++;
      recheck(credentialsOf(userId));
    }),
    deps.keys.onChanged((change) => {
      changes++;
      if ("keyId" in change) recheck([`key:${change.keyId}`]);
      else if ("userId" in change) recheck(credentialsOf(change.userId));
      else recheck([...byCredential.keys()].filter((id) => id.startsWith("key:")));
    }),
  ];

  return {
    /** How many changes were heard so far: note it before resolving a caller, pass it to `watch`. */
    changesSeen: () => changes,

    /**
     * Watches `credential` for a stream. `resolvedAt` is `changesSeen()` from before the
     * caller was resolved: when a change was heard since, the credential is re-checked once.
     */
    watch(credential: WatchedCredential, resolvedAt: number | undefined): Watch {
      const watcher: Watcher = { credential, id: credentialId(credential), controller: new AbortController() };
      add(byCredential, watcher.id, watcher);
      add(byUser, credential.userId, watcher);
      if (resolvedAt !== changes) recheck([watcher.id]);
      return { signal: watcher.controller.signal, stop: () => stop(watcher) };
    },

    /** Streams watched on this instance (tests). */
    size: () => [...byCredential.values()].reduce((n, set) => n + set.size, 0),

    close(): void {
      for (const off of offs) off();
    },
  };
}

function add<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function remove<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set?.delete(value)) return;
  if (set.size === 0) map.delete(key);
}

export type CredentialWatch = ReturnType<typeof createCredentialWatch>;
