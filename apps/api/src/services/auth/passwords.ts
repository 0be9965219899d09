import argon2 from "argon2";

// argon2id with the library's defaults (64 MiB, t=3, p=4): ~50 ms per hash on a 2-core server,
// slow enough to hurt offline guessing, fast enough for interactive login.
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false; // a malformed stored hash is a failed login, not a crash
  }
}

// Verifying against this when the account does not exist keeps the response time the same
// for known and unknown emails, so timing does not reveal which accounts exist.
let dummyHash: Promise<string> | undefined;
export function dummyVerify(password: string): Promise<boolean> {
  dummyHash ??= hashPassword("switchboard-dummy-password-for-timing");
  return dummyHash.then((h) => verifyPassword(h, password)).then(() => false);
}
