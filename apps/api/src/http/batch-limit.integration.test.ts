/**
 * A tRPC batch holds at most TRPC_LIMITS.maxBatchSize calls, over HTTP and over the
 * WebSocket: per-request limits (the per-IP limit, load shedding) count a batch once, so a
 * batch of thousands of calls would slip past them. A larger batch is refused whole with a
 * 400 and runs nothing; the typed client splits its batches to fit.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { TRPC_LIMITS } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { openTrpcSocket } from "../../test/trpc-socket.ts";

const MAX = TRPC_LIMITS.maxBatchSize;
let t: TestApp;
let token: string;
beforeAll(async () => {
  t = await startTestApp({ mode: "embedded" });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => t?.close());

/** POSTs `calls` calls of `path` as one batch, the i-th with input(i). */
async function batchOf(path: string, calls: number, input: (i: number) => unknown) {
  const paths = Array.from({ length: calls }, () => path).join(",");
  const inputs = Object.fromEntries(Array.from({ length: calls }, (_, i) => [String(i), input(i)]));
  const res = await fetch(`${t.url}/trpc/${paths}?batch=1`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(inputs),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

const conversations = async () => (await t.client(token).chat.conversations.list.query({ limit: 100 })).items.length;

it("refuses an HTTP batch over the limit whole, with 400 and nothing run; one at the limit runs", async () => {
  const refused = await batchOf("chat.send", MAX + 1, (i) => ({ message: `hello ${i}` }));
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({ error: { message: "Batch call exceeds maximum size", data: { code: "BAD_REQUEST", httpStatus: 400 } } });
  expect(await conversations()).toBe(0);

  const full = await batchOf("models.list", MAX, () => ({ limit: 1 }));
  expect(full.status).toBe(200);
  expect(full.body).toHaveLength(MAX);
  expect((full.body as Array<{ result?: { data: { items: unknown[] } } }>).every((r) => Array.isArray(r.result?.data.items))).toBe(true);
});

it("the typed client splits more calls than the limit into batches that fit", async () => {
  const client = t.client(token);
  const answers = await Promise.all(Array.from({ length: MAX * 2 + 5 }, () => client.models.list.query({ limit: 1 })));
  expect(answers).toHaveLength(MAX * 2 + 5);
  expect(answers.every((a) => Array.isArray(a.items))).toBe(true);
});

it("refuses a WebSocket batch over the limit with a BAD_REQUEST reply per call, and runs none", async () => {
  const before = await conversations();
  const socket = await openTrpcSocket(t.url, { token });
  try {
    const calls = Array.from({ length: MAX + 1 }, (_, i) => ({ id: i + 1, method: "mutation", params: { path: "chat.send", input: { message: `hi ${i}` } } }));
    socket.send(calls);
    const first = await socket.replyTo(1);
    expect(first.error?.data["code"]).toBe("BAD_REQUEST");
    await socket.barrier();
    expect(socket.replies.filter((r) => r.error?.data["code"] === "BAD_REQUEST")).toHaveLength(MAX + 1);
    expect(await conversations()).toBe(before);
  } finally {
    await socket.close();
  }
});
