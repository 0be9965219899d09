import { describe, expect, it } from "vitest";
import { CallAbort, ChainTimeout, classifyFailure } from "./call-outcome.ts";

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

  it("tells the attempt why it was aborted: a provider's emergency stop, a timer, the caller, or another reason by name", () => {
    const frozen = new CallAbort();
    frozen.stopForProvider(new Error("EMERGENCY_STOP"));
    expect(classifyFailure(new Error("aborted"), frozen, false, false)).toMatchObject({ outcome: "aborted", message: "provider frozen by an emergency stop", countsForCircuit: false });

    const timed = new CallAbort();
    timed.abort(new ChainTimeout("call", 250));
    expect(classifyFailure(new Error("aborted"), timed, false, false)).toMatchObject({ outcome: "timeout", message: "no answer within 250 ms", countsForCircuit: true });

    const left = new CallAbort();
    left.abort(new Error("client disconnected"));
    expect(classifyFailure(new Error("aborted"), left, true, false)).toMatchObject({ outcome: "aborted", message: "request aborted by the caller" });

    // Neither a stop nor a timer nor the caller: named by its reason, not taken for a freeze.
    const other = new CallAbort();
    other.abort(new Error("consumer stopped reading"));
    expect(classifyFailure(new Error("aborted"), other, false, false)).toMatchObject({ outcome: "aborted", message: "call aborted: consumer stopped reading", countsForCircuit: false });

    // A stop landing after another abort does not rename it.
    other.stopForProvider(new Error("EMERGENCY_STOP"));
    expect(other.byProviderStop).toBe(false);
  });
});
