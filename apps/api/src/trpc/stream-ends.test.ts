import { getEventListeners } from "node:events";
import { TRPCError } from "@trpc/server";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { endWhen } from "./stream-ends.ts";

const ended = () => new TRPCError({ code: "UNAUTHORIZED", message: "ended from outside" });

async function* counting(upTo: number): AsyncGenerator<number> {
  for (let n = 1; n <= upTo; n++) yield n;
}

/** Yields 1, then waits for an event that never comes. */
async function* stalled(): AsyncGenerator<number> {
  yield 1;
  await new Promise(() => {});
}

/** A full collection, from a test: V8 exposes `gc` only once asked to. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe("endWhen", () => {
  it("keeps nothing of the events already passed on (a subscription may stay open for days)", async () => {
    const first = new WeakRef({ payload: "x".repeat(1024) });
    async function* events(): AsyncGenerator<object> {
      yield first.deref()!;
      for (let n = 0; n < 1000; n++) yield { n };
      await new Promise(() => {});
    }
    const stream = endWhen(events(), [{ signal: new AbortController().signal, error: ended }]);
    for (let n = 0; n < 1001; n++) await stream.next();
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(first.deref()).toBeUndefined();
  });

  it("passes a stream through as it is and runs onEnd once when it finishes", async () => {
    let ends = 0;
    const events: number[] = [];
    for await (const n of endWhen(counting(3), [{ signal: new AbortController().signal, error: ended }], () => ends++)) events.push(n);
    expect(events).toEqual([1, 2, 3]);
    expect(ends).toBe(1);
  });

  it("ends a stream waiting for its next event with the error as its last word, then runs onEnd", async () => {
    let ends = 0;
    const stop = new AbortController();
    const stream = endWhen(stalled(), [{ signal: stop.signal, error: ended }], () => ends++);
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    const next = stream.next();
    stop.abort();
    await expect(next).rejects.toThrow("ended from outside");
    expect(ends).toBe(1);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it("runs onEnd when the reader stops early", async () => {
    let ends = 0;
    const stream = endWhen(counting(3), [{ signal: new AbortController().signal, error: ended }], () => ends++);
    await stream.next();
    await stream.return(undefined);
    expect(ends).toBe(1);
  });

  it("with several ends, the first to fire gives the last word, and every listener is removed", async () => {
    const shutdown = new AbortController();
    const session = new AbortController();
    const timeout = new AbortController(); // never fires
    const stream = endWhen(stalled(), [
      { signal: shutdown.signal, error: () => new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "shutting down" }) },
      { signal: session.signal, error: ended },
      { signal: timeout.signal, error: () => new TRPCError({ code: "TIMEOUT", message: "too long" }) },
    ]);
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    expect(getEventListeners(timeout.signal, "abort")).toHaveLength(1);
    const next = stream.next();
    session.abort();
    shutdown.abort();
    await expect(next).rejects.toThrow("ended from outside");
    expect(getEventListeners(timeout.signal, "abort")).toHaveLength(0);
  });

  it("an end that has already fired ends the stream before its first event", async () => {
    const stop = new AbortController();
    stop.abort();
    const stream = endWhen(stalled(), [{ signal: new AbortController().signal, error: () => new TRPCError({ code: "TIMEOUT", message: "too long" }) }, { signal: stop.signal, error: ended }]);
    await expect(stream.next()).rejects.toThrow("ended from outside");
  });
});
