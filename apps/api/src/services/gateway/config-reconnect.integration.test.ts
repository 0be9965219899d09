/**
 * A configuration change made while Redis is down cannot be pushed to the other instances;
 * each of them catches up as soon as its Redis connection is back, not at the next periodic
 * recheck (set to ten minutes here, so only the reconnect can explain the catch-up). Two
 * instances are two live gateways on one database, each with its own connection to a
 * private redis-server that the test kills and restarts.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openTestPglite } from "../../../test/database.ts";
import { startRedisServer, type RedisServer } from "../../../test/redis-server.ts";
import { parseEnv } from "../../env.ts";
import { createRedisCoordination } from "../../infra/coordination/redis.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import type { Database } from "../../infra/database.ts";
import { createSecretBox } from "../../infra/secrets.ts";
import { openGateway, type LiveGateway } from "./index.ts";

const TEN_MINUTES_MS = 600_000;
let redis: RedisServer;
let db: Database;
const coordinations: Coordination[] = [];
const gateways: LiveGateway[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  db = await openTestPglite();
  const env = parseEnv({ BETA_MODEL_BASE_URL: "http://127.0.0.1:9/v1", PROVIDER_ORDER: "beta,template", EMERGENCY_ACK_WAIT_MS: "200" });
  const box = createSecretBox(randomBytes(32));
  for (const instanceId of ["a", "b"]) {
    const coordination = await createRedisCoordination({ url: redis.url, keyPrefix: "config-reconnect:", log: () => {} });
    coordinations.push(coordination);
    const gateway = await openGateway({ env, prisma: db.prisma, box, coordination, instanceId, log: pino({ level: "silent" }), recheckMs: TEN_MINUTES_MS });
    await gateway.config.start();
    gateways.push(gateway);
  }
}, 60_000);

afterAll(async () => {
  for (const gateway of gateways) await gateway.config.close();
  for (const coordination of coordinations) await coordination.close();
  await db?.close();
  await redis?.stop();
});

describe("configuration across a Redis outage", () => {
  it("a provider created while Redis is down reaches the other instance as soon as Redis is back", async () => {
    const [a, b] = gateways as [LiveGateway, LiveGateway];
    await redis.kill();
    await vi.waitFor(() => expect(coordinations.map((c) => c.state())).toEqual(["degraded", "degraded"]), { timeout: 10_000 });

    const created = await a.config.createProvider({ id: null, email: "ops@example.com" }, { name: "fresh", kind: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1", models: ["fresh-1"] });
    expect(created.propagation).toBe("local");
    expect(a.registry.get("fresh")).toBeDefined();
    expect(b.registry.get("fresh")).toBeUndefined();

    await redis.restart();
    await vi.waitFor(() => expect(b.registry.get("fresh")).toBeDefined(), { timeout: 10_000 });
  });
});
