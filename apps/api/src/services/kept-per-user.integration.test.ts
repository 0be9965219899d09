/**
 * Values kept on a user's behalf, on both coordination stores: each user bounded so that no
 * one fills the room the others need — in Redis by what a user writes within the hour, in
 * process by half the memory bound per user, a user past it making room from their own oldest.
 */
import { describe, expect, it } from "vitest";
import { createCoordination } from "../infra/coordination/index.ts";
import { redisCoordinations } from "../../test/redis-coordinations.ts";
import { createKeptPerUser, type KeptEntry, type KeptPerUser } from "./kept-per-user.ts";

const { open: redis } = redisCoordinations("kept-per-user");

const HOUR = 60 * 60 * 1000;
/** 1 MB of memory a value, as counted in process (two bytes a character). */
const megabyte = "m".repeat(512 * 1024 - 16);
const limits = { counter: "test-chars", sharedMaxCharsPerUserHour: 4 * 1024 * 1024, inProcessMaxBytes: 8 * 1024 * 1024 };
const keys = (user: string, n: number) => Array.from({ length: n }, (_, i) => `${user}:${i}`);
const keep = async (kept: KeptPerUser, user: string, n: number) => {
  for (const key of keys(user, n)) await kept.put(user, [[key, megabyte]], HOUR);
};
const present = async (kept: KeptPerUser, user: string, n: number) => (await kept.getMany(keys(user, n))).map((value) => value !== null);

describe.each([
  ["in process (embedded)", async () => createKeptPerUser(await createCoordination({ redisUrl: "" }), limits)],
  ["in Redis (cluster)", async () => createKeptPerUser(await redis(), limits)],
])("values kept per user %s", (_name, open) => {
  it("are read back by key, and gone once deleted; written again, only those still kept come back", async () => {
    const kept = await open();
    const entries: KeptEntry[] = [
      ["a", "1"],
      ["b", "2"],
    ];
    expect(await kept.put("u1", entries, HOUR)).toBe(true);
    expect(await kept.getMany(["a", "b", "c"])).toEqual(["1", "2", null]);
    await kept.delete(["a"]);
    expect(await kept.put("u1", [["a", "1 again"], ["b", "2 again"]], HOUR, true)).toBe(true);
    expect(await kept.getMany(["a", "b"])).toEqual([null, "2 again"]);
  });
});

describe("values kept per user in process", () => {
  it("hold at most half the memory bound per user: past it a user's own oldest go, another user's stay", async () => {
    const kept = createKeptPerUser(await createCoordination({ redisUrl: "" }), limits);
    await keep(kept, "quiet", 2);
    await keep(kept, "heavy", 10);
    expect(await present(kept, "quiet", 2)).toEqual([true, true]);
    const heavy = await present(kept, "heavy", 10);
    // Half of 8 MB: the newest four of the heavy user's ten values.
    expect(heavy.filter(Boolean)).toHaveLength(4);
    expect(heavy.slice(6)).toEqual([true, true, true, true]);
  });

  it("keep counting a user whose values are replaced: a refresh, over and over, stays within their half", async () => {
    const kept = createKeptPerUser(await createCoordination({ redisUrl: "" }), limits);
    await keep(kept, "quiet", 2);
    // Each value kept, then kept again in its own place (a cache refresh does this).
    for (const key of keys("heavy", 10)) {
      await kept.put("heavy", [[key, megabyte]], HOUR);
      await kept.put("heavy", [[key, megabyte]], HOUR);
    }
    expect((await present(kept, "heavy", 10)).filter(Boolean)).toHaveLength(4);
    expect(await present(kept, "quiet", 2)).toEqual([true, true]);
  });

  it("take no room for values written again: a user at their half keeps all of them", async () => {
    const kept = createKeptPerUser(await createCoordination({ redisUrl: "" }), limits);
    await keep(kept, "u1", 4);
    expect(await kept.put("u1", [["u1:2", megabyte], ["u1:3", megabyte]], HOUR, true)).toBe(true);
    expect(await present(kept, "u1", 4)).toEqual([true, true, true, true]);
  });

  it("make room from a user's expired values before their live ones", async () => {
    const kept = createKeptPerUser(await createCoordination({ redisUrl: "" }), limits);
    await keep(kept, "u1", 3);
    await kept.put("u1", [["u1:brief", megabyte]], 20);
    await new Promise((r) => setTimeout(r, 40));
    await kept.put("u1", [["u1:new", megabyte]], HOUR);
    expect(await present(kept, "u1", 3)).toEqual([true, true, true]);
    expect(await kept.getMany(["u1:brief", "u1:new"])).toEqual([null, megabyte]);
  });

  it("give a deleted value's room back to its user", async () => {
    const kept = createKeptPerUser(await createCoordination({ redisUrl: "" }), limits);
    await keep(kept, "u1", 4);
    await kept.delete(["u1:0", "u1:1"]);
    await kept.put("u1", [["u1:new", megabyte]], HOUR);
    expect(await present(kept, "u1", 4)).toEqual([false, false, true, true]);
    expect(await kept.getMany(["u1:new"])).toEqual([megabyte]);
  });

  it("hold at most the memory bound across users: the least recently used go first", async () => {
    const kept = createKeptPerUser(await createCoordination({ redisUrl: "" }), limits);
    for (const user of ["u1", "u2", "u3"]) await keep(kept, user, 4);
    expect(await present(kept, "u1", 4)).toEqual([false, false, false, false]);
    expect(await present(kept, "u3", 4)).toEqual([true, true, true, true]);
  });

  it("refuse, all of them, values of one user's that are more than their half together", async () => {
    const kept = createKeptPerUser(await createCoordination({ redisUrl: "" }), limits);
    const five = keys("u1", 5).map((key): KeptEntry => [key, megabyte]);
    expect(await kept.put("u1", five, HOUR)).toBe(false);
    expect(await present(kept, "u1", 5)).toEqual([false, false, false, false, false]);
  });
});

describe("values kept per user in Redis", () => {
  it("stop being kept once a user wrote the hourly bound; another user's still are, and writing again counts for nothing", async () => {
    const kept = createKeptPerUser(await redis(), limits);
    // 4 M characters an hour: eight values of half a million characters each.
    for (const key of keys("heavy", 8)) expect(await kept.put("heavy", [[key, megabyte]], HOUR)).toBe(true);
    expect(await kept.put("heavy", [["heavy:8", megabyte]], HOUR)).toBe(false);
    expect(await kept.getMany(["heavy:8"])).toEqual([null]);
    expect(await kept.put("heavy", [["heavy:0", megabyte]], HOUR, true)).toBe(true);
    expect(await kept.put("light", [["light:0", megabyte]], HOUR)).toBe(true);
    expect(await kept.getMany(["light:0"])).toEqual([megabyte]);
  });
});
