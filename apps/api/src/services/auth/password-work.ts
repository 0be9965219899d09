import { AppError } from "../errors.ts";
import { dummyVerify, hashPassword, verifyPassword } from "./passwords.ts";

export interface PasswordWorkLimits {
  /** argon2 computations running at once (each takes ~50 ms of a core and 64 MiB). */
  concurrency: number;
  /** Computations allowed to wait for a slot; beyond this the caller is told to retry. */
  maxWaiting: number;
}

export const DEFAULT_PASSWORD_WORK: PasswordWorkLimits = { concurrency: 2, maxWaiting: 32 };

/**
 * argon2 is deliberately expensive. Left unbounded, a flood of sign-ins would occupy every
 * libuv thread and core, and starve every other request (files, health checks, chat).
 * All hashing and verifying goes through this small queue: at most `concurrency` run, at most
 * `maxWaiting` wait, and anything beyond is refused at once with 503 + Retry-After.
 */
export function createPasswordWork(limits: PasswordWorkLimits = DEFAULT_PASSWORD_WORK) {
  let running = 0;
  const waiting: Array<() => void> = [];

  async function run<T>(fn: () => Promise<T>): Promise<T> {
    if (running >= limits.concurrency) {
      if (waiting.length >= limits.maxWaiting) {
        throw new AppError("SERVICE_UNAVAILABLE", "Too many sign-ins at once; try again in a moment", { retryAfterSec: 1 });
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running += 1;
    }
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  }

  return {
    hash: (password: string) => run(() => hashPassword(password)),
    verify: (hash: string, password: string) => run(() => verifyPassword(hash, password)),
    /** Same cost as a real verify, for unknown accounts (timing must not reveal them). */
    dummyVerify: (password: string) => run(() => dummyVerify(password)),
    stats: () => ({ running, waiting: waiting.length }),
  };
}

export type PasswordWork = ReturnType<typeof createPasswordWork>;
