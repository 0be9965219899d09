import { TRPCError } from "@trpc/server";
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

describe("endWhen", () => {
  it("passes a stream through as it is and runs onEnd once when it finishes", async () => {
    let ends = 0;
    const events: number[] = [];
    for await (const n of endWhen(counting(3), new AbortController().signal, ended, () => ends++)) events.push(n);
    expect(events).toEqual([1, 2, 3]);
    expect(ends).toBe(1);
  });

  it("ends a stream waiting for its next event with the error as its last word, then runs onEnd", async () => {
    let ends = 0;
    const stop = new AbortController();
    const stream = endWhen(stalled(), stop.signal, ended, () => ends++);
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    const next = stream.next();
    stop.abort();
    await expect(next).rejects.toThrow("ended from outside");
    expect(ends).toBe(1);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it("runs onEnd when the reader stops early", async () => {
    let ends = 0;
    const stream = endWhen(counting(3), new AbortController().signal, ended, () => ends++);
    await stream.next();
    await stream.return(undefined);
    expect(ends).toBe(1);
  });
});
