/**
 * The user directory against a real PostgreSQL reached through a link whose answers the test
 * holds back: a user changed (disabled here) while the directory's read of them was under way
 * is never taken as they were by what comes after the change was heard, neither by a lookup
 * made after it nor by what the directory keeps.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../../test/database.ts";
import { startTcpLink, type TcpLink } from "../../../test/tcp-link.ts";
import { createMemoryCoordination } from "../../infra/coordination/index.ts";
import { openDatabase, type Database } from "../../infra/database.ts";
import { createUserDirectory } from "./user-directory.ts";

let server: Awaited<ReturnType<typeof createTestDatabase>>;
let link: TcpLink;
let slow: Database;
let direct: Database;
let dataDir: string;

beforeAll(async () => {
  server = await createTestDatabase();
  const target = new URL(server.url);
  link = await startTcpLink({ host: target.hostname, port: Number(target.port || 5432) });
  const viaLink = new URL(server.url);
  viaLink.port = String(link.port);
  dataDir = await mkdtemp(join(tmpdir(), "sb-user-directory-"));
  slow = await openDatabase({ databaseUrl: viaLink.toString(), dataDir });
  direct = await openDatabase({ databaseUrl: server.url, dataDir });
}, 120_000);

afterAll(async () => {
  link?.hold(false);
  await slow?.close();
  await direct?.close();
  await link?.close();
  await server?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("the user directory", () => {
  it("a user disabled while their first read was under way is disabled to every lookup after the change was heard", async () => {
    const directory = createUserDirectory({ prisma: slow.prisma, coordination: createMemoryCoordination(), refreshIntervalMs: 60_000 });
    await directory.start();
    try {
      const user = await direct.prisma.user.create({ data: { email: `raced-${crypto.randomUUID()}@example.com`, passwordHash: "x" } });
      // A connection open and idle, so what the link holds next is the read's answer.
      await slow.prisma.$queryRaw`SELECT 1`;
      link.hold(true);
      const before = directory.get(user.id);
      await expect.poll(() => link.heldBytes, { timeout: 5000 }).toBeGreaterThan(0);
      // Disabled, and the change heard here (as users.update writes, then announces).
      await direct.prisma.user.update({ where: { id: user.id }, data: { disabled: true } });
      await directory.changed(user.id);
      const after = directory.get(user.id);
      link.hold(false);
      // The lookup that began before the change may answer with the user as they were read.
      expect((await before)?.disabled).toBe(false);
      expect((await after)?.disabled).toBe(true);
      // Nor is the earlier read kept: the next lookup (from what is held) says the same.
      expect((await directory.get(user.id))?.disabled).toBe(true);
    } finally {
      link.hold(false);
      await directory.close();
    }
  }, 60_000);
});
