/**
 * Providers and routes are live across the cluster: two API processes on one PostgreSQL
 * and one Redis prefix. A change made through one is acknowledged by both before it
 * answers, is in force on the other at once, never fails a request already streaming, and
 * a freeze scope naming a provider created at runtime works on every instance.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSwitchboardClient, type SwitchboardClient } from "@switchboard/client";
import type { TChatStreamEvent } from "@switchboard/schema";
import { CLUSTER_SUPERADMIN, startApiProcess, type ApiProcess } from "../../../test/api-process.ts";
import { createTestDatabase } from "../../../test/database.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "../../../test/redis.ts";

const prefix = uniquePrefix("live-config");
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let beta: FakeOpenAIServer;
let fresh: FakeOpenAIServer;
let fleet: ApiProcess[] = [];
let a: SwitchboardClient;
let b: SwitchboardClient;

beforeAll(async () => {
  db = await createTestDatabase();
  beta = await startFakeOpenAI({ name: "beta", defaultBehavior: { kind: "ok", content: "from beta" } });
  fresh = await startFakeOpenAI({ name: "fresh", defaultBehavior: { kind: "ok", content: "from fresh" } });
  // Correctness, not speed (bench:routing measures that): two busy cores may need longer.
  const env = { BETA_MODEL_BASE_URL: beta.url, PROVIDER_ORDER: "beta,template", EMERGENCY_ACK_WAIT_MS: "10000" };
  for (let i = 0; i < 2; i++) fleet.push(await startApiProcess({ databaseUrl: db.url, redisUrl: testRedisUrl(), redisKeyPrefix: prefix, env }));
  const token = (await createSwitchboardClient({ url: fleet[0]!.url }).auth.login.mutate(CLUSTER_SUPERADMIN)).accessToken;
  a = createSwitchboardClient({ url: fleet[0]!.url, token });
  b = createSwitchboardClient({ url: fleet[1]!.url, token });
}, 240_000);

afterAll(async () => {
  await Promise.all(fleet.map((p) => p.stop()));
  fleet = [];
  await beta?.close();
  await fresh?.close();
  await db?.drop();
  await deleteKeysWithPrefix(prefix);
});

describe("two instances", () => {
  it("a provider and a route created on one are acknowledged by both and serve on the other at once", async () => {
    const created = await a.providers.create.mutate({ name: "fresh", kind: "openai-compatible", baseUrl: fresh.url, apiKey: "sk-fresh-0123456789abcd", models: ["fresh-1"] });
    expect(created).toMatchObject({ acknowledgedBy: 2, liveInstances: 2, pendingInstances: [], propagation: "confirmed" });
    expect((await b.providers.list.query()).items.map((p) => p.name)).toContain("fresh");

    const routed = await a.models.upsert.mutate({ name: "fresh-route", targets: [{ provider: "fresh", upstreamModel: "fresh-1" }], inputPricePerMTok: 1, outputPricePerMTok: 2 });
    expect(routed.acknowledgedBy).toBe(2);
    const answer = await b.chat.send.mutate({ message: "hello", model: "fresh-route" });
    expect(answer).toMatchObject({ provider: "fresh", content: "from fresh" });
    expect(fresh.requests.at(-1)?.body.model).toBe("fresh-1");
  });

  it("an update on one instance does not fail a stream in flight on the other", async () => {
    fresh.setDefault({ kind: "ok", content: Array.from({ length: 40 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 25 });
    const events: TChatStreamEvent[] = [];
    let firstDelta!: () => void;
    const started = new Promise<void>((resolve) => (firstDelta = resolve));
    const done = new Promise<void>((resolve, reject) => {
      const sub = b.chat.stream.subscribe(
        { message: "long answer", model: "fresh-route" },
        {
          onData: (event) => {
            events.push(event);
            if (event.type === "chat_delta") firstDelta();
            if (event.type === "chat_complete" || event.type === "error") {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    await started;
    const id = (await a.providers.list.query()).items.find((p) => p.name === "fresh")!.id;
    const updated = await a.providers.update.mutate({ id, timeoutMs: 20_000, headers: { "x-change": "one" } });
    expect(updated.acknowledgedBy).toBe(2);
    await done;
    expect(events.at(-1)).toMatchObject({ type: "chat_complete", provider: "fresh" });
    expect(events.filter((e) => e.type === "error")).toEqual([]);
    fresh.setDefault({ kind: "ok", content: "from fresh" });

    // The next request on the other instance uses the new settings.
    await b.chat.send.mutate({ message: "again", model: "fresh-route" });
    expect(fresh.requests.at(-1)?.headers["x-change"]).toBe("one");
  });

  it("provider:<name> freezes a runtime provider on every instance; its route falls back", async () => {
    await a.models.upsert.mutate({ name: "fresh-route", targets: [{ provider: "fresh", upstreamModel: "fresh-1" }, { provider: "beta", upstreamModel: "beta" }] });
    const frozen = await a.emergency.freeze.mutate({ reason: "fresh is misbehaving", scope: "provider:fresh" });
    expect(frozen.acknowledgedBy).toBe(2);
    try {
      const answer = await b.chat.send.mutate({ message: "hi", model: "fresh-route" });
      expect(answer.attempts.map((x) => [x.provider, x.outcome])).toEqual([
        ["fresh", "skipped_frozen"],
        ["beta", "success"],
      ]);
    } finally {
      await a.emergency.unfreeze.mutate({ reason: "fixed" });
    }
  });

  it("the audit trail says who changed what, and never holds a key", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client
      .query<{ action: string; target: string; actorEmail: string; changes: unknown }>(`SELECT action, target, "actorEmail", changes FROM "ConfigAudit" ORDER BY version`)
      .finally(() => client.end());
    expect(rows.map((r) => r.action)).toEqual(["seed", "provider.create", "model.upsert", "provider.update", "model.upsert"]);
    expect(rows.slice(1).every((r) => r.actorEmail === CLUSTER_SUPERADMIN.email)).toBe(true);
    expect(JSON.stringify(rows)).not.toContain("sk-fresh");
    expect(rows[1]!.changes).toMatchObject({ name: "fresh", apiKey: "set" });
  });
});
