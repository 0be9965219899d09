/**
 * The user directory against a real PostgreSQL reached through a link whose answers the test
 * holds back: a user changed (disabled here) while the directory's read of them was under way
 * is never taken as they were by what comes after the change was heard, neither by a lookup
 * made after it nor by what the directory keeps — whether that read was a lookup's or a
 * refresh's.
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
/** The database, reached through the link. */
let linkUrl: string;

beforeAll(async () => {
  server = await createTestDatabase();
  const target = new URL(server.url);
  link = await startTcpLink({ host: target.hostname, port: Number(target.port || 5432) });
  const viaLink = new URL(server.url);
  viaLink.port = String(link.port);
  dataDir = await mkdtemp(join(tmpdir(), "sb-user-directory-"));
  linkUrl = viaLink.toString();
  slow = await openDatabase({ databaseUrl: linkUrl, dataDir });
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

  it("a refresh whose read began before a user was disabled does not undo what a lookup read after the change", async () => {
    // A pool of its own, empty at first: the one connection the refresh gets is the one held.
    const own = await openDatabase({ databaseUrl: linkUrl, dataDir, migrate: false });
    const coordination = createMemoryCoordination();
    const directory = createUserDirectory({ prisma: own.prisma, coordination, refreshIntervalMs: 60_000 });
    // The change is made on another instance and heard here by its push, once.
    const peer = createUserDirectory({ prisma: direct.prisma, coordination, refreshIntervalMs: 60_000 });
    await directory.start();
    await peer.start();
    try {
      const user = await direct.prisma.user.create({ data: { email: `refreshed-${crypto.randomUUID()}@example.com`, passwordHash: "x" } });
      expect((await directory.get(user.id))?.disabled).toBe(false);
      // The refresh's read runs on the connection open now, whose answer is held back.
      link.hold(true, "open");
      const refreshed = directory.refresh();
      await expect.poll(() => link.heldBytes, { timeout: 5000 }).toBeGreaterThan(0);
      const heard = new Promise<void>((resolve) => directory.onChanged((id) => id === user.id && resolve()));
      await direct.prisma.user.update({ where: { id: user.id }, data: { disabled: true } });
      await peer.changed(user.id);
      await heard;
      // Read on a new connection, answered at once, and kept.
      expect((await directory.get(user.id))?.disabled).toBe(true);
      // The refresh's answer (the user as they were) arrives last.
      link.hold(false);
      await refreshed;
      expect((await directory.get(user.id))?.disabled).toBe(true);
    } finally {
      link.hold(false);
      await directory.close();
      await peer.close();
      await own.close();
    }
  }, 60_000);
});
