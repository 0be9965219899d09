import { afterAll } from "vitest";
import { createCoordination, type Coordination } from "../src/infra/coordination/index.ts";
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from "./redis.ts";

/**
 * Coordinations on the test Redis under one fresh prefix (as several instances of a fleet
 * would share it), closed and their keys deleted after the calling file's tests. Call at a
 * test file's top level.
 */
export function redisCoordinations(name: string): { prefix: string; open: () => Promise<Coordination> } {
  const prefix = uniquePrefix(name);
  const opened: Coordination[] = [];
  afterAll(async () => {
    for (const c of opened) await c.close();
    await deleteKeysWithPrefix(prefix);
  });
  return {
    prefix,
    async open() {
      const c = await createCoordination({ redisUrl: testRedisUrl(), keyPrefix: prefix, log: () => {} });
      opened.push(c);
      return c;
    },
  };
}
