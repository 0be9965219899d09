import { describe, expect, it } from "vitest";
import { CallAbort } from "./call-outcome.ts";

// The chain hands CallAbort to providers where they used to get an AbortController's signal:
// these are the parts of AbortSignal's behaviour the providers and the chain rely on.
describe("CallAbort, one upstream call's abort", () => {
  it("calls its listeners once, in order, with the first reason; later aborts change nothing", () => {
    const call = new CallAbort();
    const heard: string[] = [];
    call.signal.addEventListener("abort", () => heard.push(`first: ${String(call.reason)}`));
    call.signal.addEventListener("abort", () => heard.push("second"));
    call.abort("timeout");
    call.abort("stop");
    expect(heard).toEqual(["first: timeout", "second"]);
    expect(call.aborted).toBe(true);
    expect(call.reason).toBe("timeout");
  });

  it("forgets a removed listener, and never calls one added after the abort", () => {
    const call = new CallAbort();
    const heard: string[] = [];
    const removed = () => heard.push("removed");
    call.addEventListener("abort", removed);
    call.removeEventListener("abort", removed);
    call.abort("x");
    call.addEventListener("abort", () => heard.push("late"));
    expect(heard).toEqual([]);
  });

  it("gives an AbortError as the reason when aborted without one, as AbortController does", () => {
    const call = new CallAbort();
    call.abort();
    const native = new AbortController();
    native.abort();
    expect(call.reason).toBeInstanceOf(DOMException);
    expect((call.reason as DOMException).name).toBe((native.signal.reason as DOMException).name);
  });
});
