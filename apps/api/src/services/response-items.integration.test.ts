/**
 * The Responses API's kept output items and answers on both coordination stores: found (and
 * continued, read back, forgotten) by the user who got them and by no one else, on any
 * instance sharing Redis; in process, the oldest go first once the byte bound (or the user's
 * half of it) is reached, so an embedded server's memory stays bounded.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createCoordination } from "../infra/coordination/index.ts";
import { redisCoordinations } from "../../test/redis-coordinations.ts";
import { testRedisUrl } from "../../test/redis.ts";
import { createResponseItems, KeptBoundReached, MAX_CHAINED_RESPONSES, type ResponseItems } from "./response-items.ts";

const { prefix, open: redis } = redisCoordinations("response-items");

const message = (id: string, text: string) => ({ id, type: "message", role: "assistant", content: [{ type: "output_text", text }] });

describe.each([
  ["in process (embedded: one instance)", async () => [createResponseItems(await createCoordination({ redisUrl: "" }))]],
  ["in Redis (cluster), across two instances", async () => [createResponseItems(await redis()), createResponseItems(await redis())]],
])("kept response items %s", (_name, open) => {
  it("are found by the user who got them, by id, and by no one else", async () => {
    const [onA, onB = onA] = (await open()) as [ResponseItems, ResponseItems?];
    const call = { id: "fc_1", type: "function_call", name: "f", arguments: "{}", call_id: "c1" };
    await onA.keep("u1", [message("msg_1", "hello"), call]);
    const found = await onB.find("u1", ["msg_1", "fc_1", "msg_unknown"]);
    expect([...found.keys()]).toEqual(["msg_1", "fc_1"]);
    expect(found.get("msg_1")).toEqual(message("msg_1", "hello"));
    expect((await onB.find("u2", ["msg_1"])).size).toBe(0);
    expect((await onB.find("u1", [])).size).toBe(0);
  });
});

describe.each([
  ["in process (embedded: one instance)", async () => [createResponseItems(await createCoordination({ redisUrl: "" }))]],
  ["in Redis (cluster), across two instances", async () => [createResponseItems(await redis()), createResponseItems(await redis())]],
])("kept answers %s", (_name, open) => {
  const user = (text: string) => ({ type: "message", role: "user", content: text });

  it("give back the conversation up to an answer, oldest first, for the user who got it; its items too", async () => {
    const [onA, onB = onA] = (await open()) as [ResponseItems, ResponseItems?];
    await onA.keepResponse("u1", "resp_1", { input: [user("Capital of France?")], output: [message("msg_1", "Paris.")] });
    const first = await onB.conversation("u1", "resp_1");
    expect(first?.items).toEqual([user("Capital of France?"), message("msg_1", "Paris.")]);
    await onB.keepResponse("u1", "resp_2", { input: [user("And Spain?")], output: [message("msg_2", "Madrid.")] }, first!.continued);
    const second = await onA.conversation("u1", "resp_2");
    expect(second?.items).toEqual([user("Capital of France?"), message("msg_1", "Paris."), user("And Spain?"), message("msg_2", "Madrid.")]);
    expect(second?.continued.ids).toEqual(["resp_1", "resp_2"]);
    expect([...(await onB.find("u1", ["msg_1", "msg_2"])).keys()]).toEqual(["msg_1", "msg_2"]);
    // Another user's answer, an unknown one, or one whose earlier answer is gone: nothing.
    expect(await onB.conversation("u2", "resp_2")).toBeNull();
    expect(await onB.conversation("u1", "resp_unknown")).toBeNull();
    await onA.keepResponse("u1", "resp_orphan", { input: [user("x")], output: [] }, { ids: ["resp_gone"], chars: 10 });
    expect(await onB.conversation("u1", "resp_orphan")).toBeNull();
  });

  it("tell what a conversation keeps before reading it, so a caller can refuse one too large to send on", async () => {
    const [items] = (await open()) as [ResponseItems];
    await items.keepResponse("u1", "resp_a", { input: [user("a".repeat(300_000))], output: [] });
    const a = await items.conversation("u1", "resp_a");
    await items.keepResponse("u1", "resp_b", { input: [user("b".repeat(300_000))], output: [] }, a!.continued);
    const told: number[] = [];
    expect((await items.conversation("u1", "resp_b", (chars) => void told.push(chars)))?.continued.chars).toBe(told[0]);
    expect(told[0]).toBeGreaterThan(600_000);
    await expect(
      items.conversation("u1", "resp_b", () => {
        throw new Error("too large");
      }),
    ).rejects.toThrow("too large");
  });

  it("keep none over 1 MB (its items are kept on their own), and none past 500 answers in one conversation", async () => {
    const [items] = (await open()) as [ResponseItems];
    await items.keepResponse("u1", "resp_big", { input: [user("y".repeat(1024 * 1024))], output: [message("msg_small", "ok")] });
    expect(await items.conversation("u1", "resp_big")).toBeNull();
    expect((await items.find("u1", ["msg_small"])).has("msg_small")).toBe(true);
    const full = { ids: Array.from({ length: MAX_CHAINED_RESPONSES }, (_, n) => `resp_${n}`), chars: 0 };
    await items.keepResponse("u1", "resp_too_far", { input: [], output: [] }, full);
    expect(await items.conversation("u1", "resp_too_far")).toBeNull();
  });

  it("are read back whole by the user who got them (the envelope not counted as conversation), and forgotten with their items", async () => {
    const [onA, onB = onA] = (await open()) as [ResponseItems, ResponseItems?];
    const envelope = { id: "resp_env", object: "response", status: "completed", tools: [{ type: "function", name: "f", description: "d".repeat(50_000) }] };
    await onA.keepResponse("u1", "resp_env", { input: [user("Hi")], output: [message("msg_env", "Hello")], envelope });
    expect(await onB.response("u1", "resp_env")).toEqual({ input: [user("Hi")], output: [message("msg_env", "Hello")], envelope });
    expect(await onB.response("u2", "resp_env")).toBeNull();
    // A continuation replays input and output only: a long tool list is not history.
    expect((await onB.conversation("u1", "resp_env"))!.continued.chars).toBeLessThan(1_000);
    expect(await onB.forget("u2", "resp_env")).toBe(false);
    expect(await onB.forget("u1", "resp_env")).toBe(true);
    expect(await onA.response("u1", "resp_env")).toBeNull();
    expect(await onA.conversation("u1", "resp_env")).toBeNull();
    expect((await onA.find("u1", ["msg_env"])).size).toBe(0);
    expect(await onA.forget("u1", "resp_env")).toBe(false);
  });

  it("give back the output as sent (logprobs, annotations) while a continuation replays it without them, and count only that", async () => {
    const [onA, onB = onA] = (await open()) as [ResponseItems, ResponseItems?];
    const sent = { ...message("msg_lp", "Hi"), content: [{ type: "output_text", text: "Hi", annotations: [{ type: "url_citation", url: "https://example.com" }], logprobs: [{ token: "Hi", logprob: -0.1 }] }] };
    await onA.keepResponse("u1", "resp_lp", { input: [user("Hello")], output: [sent], envelope: { id: "resp_lp", object: "response" } });
    expect((await onB.response("u1", "resp_lp"))?.output).toEqual([sent]);
    const replayed = await onB.conversation("u1", "resp_lp");
    expect(replayed?.items[1]).toEqual(message("msg_lp", "Hi"));
    expect(replayed!.continued.chars).toBe(JSON.stringify({ input: [user("Hello")], output: [message("msg_lp", "Hi")] }).length);
    // Kept without an envelope (as before retrieval existed): continued, never retrieved.
    await onA.keepResponse("u1", "resp_bare", { input: [user("x")], output: [] });
    expect(await onB.response("u1", "resp_bare")).toBeNull();
    expect(await onB.conversation("u1", "resp_bare")).not.toBeNull();
  });
});

describe("kept answers in Redis, per user", () => {
  it("stop being kept once a user kept 32 M characters within the hour; another user's still are", async () => {
    const items = createResponseItems(await redis());
    const photo = "p".repeat(1_000_000);
    const keep = (userId: string, n: number) => items.keepResponse(userId, `resp_${n}`, { input: [{ type: "message", role: "user", content: photo }], output: [] });
    for (let n = 0; n < 33; n++) await keep("heavy", n);
    await expect(keep("heavy", 33)).rejects.toBeInstanceOf(KeptBoundReached);
    expect(await items.conversation("heavy", "resp_33")).toBeNull();
    expect((await items.conversation("heavy", "resp_32"))?.items).toHaveLength(1);
    await keep("light", 0);
    expect((await items.conversation("light", "resp_0"))?.items).toHaveLength(1);
  });
});

describe("a conversation being continued", () => {
  it("keeps its first answers and their items again, so they do not expire while it goes on, without counting them again", async () => {
    const coordination = await redis();
    const items = createResponseItems(coordination);
    // An answer kept 20 minutes ago, and one kept just now that continues it.
    const old = { input: [], output: [message("msg_o", "old")], before: [], chars: 40, keptAt: Date.now() - 20 * 60_000 };
    await coordination.set("resp:u1:resp_old", JSON.stringify(old), { ttlMs: 40 * 60_000 });
    await coordination.set("resp-item:u1:msg_o", JSON.stringify(message("msg_o", "old")), { ttlMs: 40 * 60_000 });
    await items.keepResponse("u1", "resp_new", { input: [], output: [message("msg_n", "new")] }, { ids: ["resp_old"], chars: 40 });
    const counted = await coordination.get("resp-chars:u1");
    expect((await items.conversation("u1", "resp_new"))?.items).toHaveLength(2);
    await expect.poll(async () => (JSON.parse((await coordination.get("resp:u1:resp_old"))!) as { keptAt: number }).keptAt, { timeout: 2_000 }).toBeGreaterThan(Date.now() - 60_000);
    expect((await items.find("u1", ["msg_o"])).has("msg_o")).toBe(true);
    // Its item was kept again too: a full hour left.
    const redisClient = new Redis(testRedisUrl());
    expect(await redisClient.pttl(`${prefix}resp-item:u1:msg_o`)).toBeGreaterThan(50 * 60_000);
    redisClient.disconnect();
    expect(await coordination.get("resp-chars:u1")).toBe(counted);
  });

  it("never brings back an earlier answer deleted while it is read: the refresh writes only what is still kept", async () => {
    const coordination = await redis();
    const items = createResponseItems(coordination);
    const old = { input: [], output: [message("msg_gone", "old")], before: [], chars: 40, keptAt: Date.now() - 20 * 60_000 };
    await coordination.set("resp:u1:resp_gone", JSON.stringify(old), { ttlMs: 40 * 60_000 });
    await items.keepResponse("u1", "resp_after", { input: [], output: [message("msg_after", "new")] }, { ids: ["resp_gone"], chars: 40 });
    // The continuation's reads and the delete interleave on the connection; its refresh comes last.
    const [read, forgotten] = await Promise.all([items.conversation("u1", "resp_after"), items.forget("u1", "resp_gone")]);
    expect(read?.items).toHaveLength(2);
    expect(forgotten).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(await coordination.get("resp:u1:resp_gone")).toBeNull();
    expect((await items.find("u1", ["msg_gone"])).size).toBe(0);
  });
});

describe("kept response items in process", () => {
  it("hold about 32 MB, half of it per user: a user past their half drops their own oldest, never another user's", async () => {
    const items = createResponseItems(await createCoordination({ redisUrl: "" }));
    const halfMegabyte = "x".repeat(512 * 1024);
    await items.keep("u2", [message("msg_quiet", "kept")]);
    for (let n = 0; n < 80; n++) await items.keep("u1", [message(`msg_${n}`, halfMegabyte)]);
    const found = await items.find("u1", Array.from({ length: 80 }, (_, n) => `msg_${n}`));
    expect(found.has("msg_0")).toBe(false);
    expect(found.has("msg_79")).toBe(true);
    // Two bytes a character: half of 32 MB holds fewer than 16 of these 1 MB items.
    expect(found.size).toBeLessThan(16);
    expect((await items.find("u2", ["msg_quiet"])).has("msg_quiet")).toBe(true);
  });
});

describe.each([
  ["in process", async () => createCoordination({ redisUrl: "" })],
  ["in Redis", redis],
])("what is kept (%s)", (_name, open) => {
  it("is what a reference turns back into — no logprobs or annotations — and nothing over 1 MB", async () => {
    const items = createResponseItems(await open());
    const withExtras = { id: "msg_x", type: "message", role: "assistant", content: [{ type: "output_text", text: "hi", annotations: [{ type: "url_citation" }], logprobs: [{ token: "hi", logprob: -0.1 }] }] };
    await items.keep("u1", [withExtras, message("msg_huge", "y".repeat(1024 * 1024))]);
    const found = await items.find("u1", ["msg_x", "msg_huge"]);
    expect(found.get("msg_x")).toEqual({ id: "msg_x", type: "message", role: "assistant", content: [{ type: "output_text", text: "hi" }] });
    expect(found.has("msg_huge")).toBe(false);
  });
});

describe("kept response items in Redis, when the store fails", () => {
  it("a lookup is a 503-class refusal that says to retry, not an internal error", async () => {
    const coordination = await redis();
    const items = createResponseItems(coordination);
    // A closed store rejects every call, as an unreachable one does.
    await coordination.close();
    await expect(items.find("u1", ["msg_1"])).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE", retryAfterSec: 1 });
  });
});
