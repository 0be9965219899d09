import type { FastifyBaseLogger } from "fastify";
import { describe, expect, it } from "vitest";
import { captureLog } from "../../test/log-capture.ts";
import { createLogger } from "../infra/logger.ts";
import { requestLogger } from "./request-logger.ts";

/** The same lines written by pino's own child and by the stand-in, times blanked out. */
async function bothWays(write: (log: FastifyBaseLogger) => void, options: object = {}): Promise<[string, string]> {
  const texts: string[] = [];
  for (const lazy of [false, true]) {
    const capture = captureLog();
    const parent = createLogger("info", capture.sink) as unknown as FastifyBaseLogger;
    const bindings = { reqId: "req-1" };
    const log = lazy ? requestLogger.call(undefined as never, parent, bindings, options, undefined as never) : parent.child(bindings, options);
    write(log);
    await new Promise((resolve) => setImmediate(resolve));
    texts.push(capture.text().replace(/"time":"[^"]+"/g, '"time":"-"'));
  }
  return texts as [string, string];
}

describe("the per-request logger", () => {
  it("writes a (fields, message) line exactly as the request's child logger would, redaction included", async () => {
    const [child, lazy] = await bothWays((log) => {
      log.info({ method: "POST", route: "/v1/chat/completions", status: 200, authorization: "Bearer secret" }, "request");
      log.warn({ nested: { token: "t" } }, "with %s", "args");
    });
    expect(lazy).toBe(child);
    expect(lazy).toContain('"reqId":"req-1"');
    expect(lazy).not.toContain("secret");
  });

  it("hands everything else to a real child: an Error, a message alone, a child of its own, the level", async () => {
    const [child, lazy] = await bothWays((log) => {
      log.error(new Error("boom"), "failed");
      log.info("just words");
      log.child({ ws: "/ws/chat" }).info({ n: 1 }, "from a grandchild");
      log.debug({ hidden: true }, "below the level");
      log.info({ level: log.level }, "level read");
    });
    // Stack traces differ by the line that made the Error; everything else must match.
    const withoutStacks = (text: string) => text.replace(/"stack":"[^"]*"/g, '"stack":"-"');
    expect(withoutStacks(lazy)).toBe(withoutStacks(child));
    expect(lazy).toContain('"msg":"failed"');
    expect(lazy).toContain('"ws":"/ws/chat"');
    expect(lazy).not.toContain("below the level");
  });

  it("keeps per-route options (a level) by making the child at once", async () => {
    const [child, lazy] = await bothWays((log) => log.debug({ shown: true }, "debug on this route"), { level: "debug" });
    expect(lazy).toBe(child);
    expect(lazy).toContain("debug on this route");
  });
});
