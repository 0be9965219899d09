/**
 * chat.conversations.list over tRPC HTTP, on PostgreSQL + Redis and on the embedded default:
 * a reader paging through while the conversation its next page starts after gets a reply, and
 * the cursors a client could send that this list never gave.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcQuery } from "../../test/http.ts";

describe.each(["cluster", "embedded"] as const)("conversation pages (%s)", (mode) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ mode, env: { PROVIDER_ORDER: "template", TEMPLATE_STREAM_DELAY_MS: "0" } });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A new user with `count` conversations; their ids newest first. */
  async function userWithConversations(count: number) {
    const user = await t.userWithRole("USER");
    const client = t.client(user.token);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.unshift((await client.chat.send.mutate({ message: `conversation ${i}` })).conversationId);
    return { user, client, ids };
  }

  const list = (token: string, input: unknown) => trpcQuery(t.url, "chat.conversations.list", input, bearer(token));
  const idsOf = (body: { result: { data: { items: Array<{ id: string }> } } }) => body.result.data.items.map((c) => c.id);

  it("a reply to the conversation the next page starts after neither brings the first page back nor loses a row", async () => {
    const { client, ids } = await userWithConversations(5);
    const first = await client.chat.conversations.list.query({ limit: 2 });
    expect(first.items.map((c) => c.id)).toEqual(ids.slice(0, 2));
    // The last conversation shown gets a reply: by activity it is now the newest.
    await client.chat.send.mutate({ conversationId: ids[1]!, message: "and one more thing" });
    const second = await client.chat.conversations.list.query({ limit: 2, cursor: first.nextCursor! });
    expect(second.items.map((c) => c.id)).toEqual(ids.slice(2, 4));
    const third = await client.chat.conversations.list.query({ limit: 2, cursor: second.nextCursor! });
    expect(third).toEqual({ items: [expect.objectContaining({ id: ids[4] })], nextCursor: null });
    // From the top, it leads.
    expect((await client.chat.conversations.list.query({ limit: 1 })).items[0]!.id).toBe(ids[1]);
  });

  it("answers a cursor it never gave with 400 on cursor, another user's conversation id with the 404 of a gone one, never a 500", async () => {
    const { user, ids } = await userWithConversations(3);
    const other = await userWithConversations(1);
    const now = Date.now();
    const refused: Array<[unknown, number]> = [
      ["garbage", 400],
      ["x".repeat(200), 400],
      ["x".repeat(5000), 400],
      [`${ids[0]}.soon`, 400],
      [`${ids[0]}.${now}.${now}`, 400],
      [`${ids[0]}.${"9".repeat(40)}`, 400],
      [`${ids[0]}.253402300800000`, 400],
      [`${ids[0]}.-62135596800001`, 400],
      [now, 400],
      [{ id: ids[0] }, 400],
      [other.ids[0], 404],
      [randomUUID(), 404],
    ];
    for (const [cursor, status] of refused) {
      const res = await list(user.token, { limit: 2, cursor });
      const label = JSON.stringify(cursor).slice(0, 60);
      expect(res.status, label).toBe(status);
      if (typeof cursor === "string" && cursor.length <= 200) expect(res.body.error.data, label).toMatchObject({ field: "cursor" });
    }
    // Too long for a URL at all: the HTTP server's 431, still not a 500.
    expect((await list(user.token, { limit: 2, cursor: "x".repeat(100_000) })).status).toBe(431);
    // A place carries values only: any time, with any id (another user's too), reads the caller's own rows.
    const own = (await list(user.token, { limit: 3 })).body;
    const future = await list(user.token, { limit: 3, cursor: `${other.ids[0]}.${Date.parse("9999-12-31T23:59:59.999Z")}` });
    expect(future.status).toBe(200);
    expect(idsOf(future.body)).toEqual(idsOf(own));
    const past = await list(user.token, { limit: 3, cursor: `${other.ids[0]}.${Date.parse("0001-01-01T00:00:00.000Z")}` });
    expect(past.status).toBe(200);
    expect(past.body.result.data).toEqual({ items: [], nextCursor: null });
  });

  it("still takes a conversation id as a cursor, the form it gave before", async () => {
    const { user, ids } = await userWithConversations(3);
    const res = await list(user.token, { limit: 1, cursor: ids[0] });
    expect(res.status).toBe(200);
    expect(idsOf(res.body)).toEqual([ids[1]]);
    expect(res.body.result.data.nextCursor).toMatch(new RegExp(`^${ids[1]}\\.\\d+$`));
  });
});
