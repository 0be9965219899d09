/**
 * DATA_DIR holds the embedded database, the generated JWT secret, the secrets key and the
 * generated SuperAdmin password: only the server's own user may read it. The directory is
 * made (or tightened to) 0700 and everything in it 0600 (directories 0700), so files made by
 * an older version or by PGlite under a loose umask are fixed at each start.
 */
import { chmod, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";

export async function secureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await tighten(dir);
}

async function tighten(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await tighten(path);
    else if (entry.isFile()) await chmod(path, 0o600);
  }
}
