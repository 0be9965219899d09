import { afterEach, describe, expect, it } from "vitest";
import { createMemoryCoordination } from "./coordination/memory.ts";
import { createRevocationSet, type RevocationEntry, type RevocationSet } from "./revocation-set.ts";

const open: RevocationSet[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  return check();
};

describe("revocation set", () => {
  it("a revocation on one instance reaches another through the channel, without a read", async () => {
    const coordination = createMemoryCoordination();
    const source: RevocationEntry[] = [];
    const make = () => {
      const set = createRevocationSet({ coordination, channel: "test:revoked", load: async () => source, resyncIntervalMs: 60_000 });
      open.push(set);
      return set;
    };
    const [a, b] = [make(), make()];
    await Promise.all([a.start(), b.start()]);
    await a.revoke([{ id: "s1", untilMs: Date.now() + 60_000 }]);
    expect(a.has("s1")).toBe(true);
    expect(await until(() => b.has("s1"))).toBe(true);
    expect(b.has("s2")).toBe(false);
  });

  it("reads the source of truth at start and on resync, and forgets entries past their time", async () => {
    const coordination = createMemoryCoordination();
    const source: RevocationEntry[] = [{ id: "old", untilMs: Date.now() + 60_000 }];
    const set = createRevocationSet({ coordination, channel: "test:revoked-2", load: async () => source, resyncIntervalMs: 60_000 });
    open.push(set);
    await set.start();
    expect(set.has("old")).toBe(true);
    // Written behind the set's back (e.g. a lost push): the next resync brings it.
    source.push({ id: "missed", untilMs: Date.now() + 60_000 }, { id: "expired", untilMs: Date.now() - 1 });
    expect(set.has("missed")).toBe(false);
    await set.resync();
    expect(set.has("missed")).toBe(true);
    expect(set.has("expired")).toBe(false);
  });

  it("keeps the last known set when the source cannot be read", async () => {
    const coordination = createMemoryCoordination();
    let failing = false;
    const set = createRevocationSet({
      coordination,
      channel: "test:revoked-3",
      load: async () => {
        if (failing) throw new Error("database unreachable");
        return [{ id: "kept", untilMs: null }];
      },
      resyncIntervalMs: 60_000,
    });
    open.push(set);
    await set.start();
    failing = true;
    await set.resync();
    expect(set.has("kept")).toBe(true);
  });

  it("tells its listeners of each id new to it, once, however it arrived: revoked here, pushed, or resynced", async () => {
    const coordination = createMemoryCoordination();
    const source: RevocationEntry[] = [];
    const make = () => {
      const set = createRevocationSet({ coordination, channel: "test:revoked-4", load: async () => source, resyncIntervalMs: 60_000 });
      open.push(set);
      return set;
    };
    const [a, b] = [make(), make()];
    await Promise.all([a.start(), b.start()]);
    const heard: string[][] = [];
    const off = b.onRevoked((ids) => heard.push(ids));

    await a.revoke([{ id: "pushed", untilMs: Date.now() + 60_000 }]);
    expect(await until(() => heard.length === 1)).toBe(true);
    source.push({ id: "pushed", untilMs: Date.now() + 120_000 }, { id: "polled", untilMs: Date.now() + 60_000 });
    await b.resync();
    await b.revoke([{ id: "here", untilMs: Date.now() + 60_000 }, { id: "polled", untilMs: Date.now() + 60_000 }]);
    expect(heard).toEqual([["pushed"], ["polled"], ["here"]]);

    off();
    await b.revoke([{ id: "after", untilMs: Date.now() + 60_000 }]);
    expect(heard).toHaveLength(3);
  });
});
