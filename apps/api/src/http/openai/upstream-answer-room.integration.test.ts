/**
 * What a /v1 caller sees when this instance has no room left for another large upstream
 * answer (providers/upstream-answer-room.ts): a 503 with Retry-After, as load shedding
 * answers, in OpenAI's shape; no fallback to the next provider (whose answer would be paid
 * for too) and no mark against the provider's circuit. Real local upstreams send the large
 * answers, to requests in flight together.
 */
import { request } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { bearer } from "../../../test/http.ts";
import { startUpstreams, type Upstreams } from "../../../test/upstreams.ts";
import { UPSTREAM_ANSWER_ROOM_BYTES, upstreamAnswerRoom } from "../../providers/upstream-answer-room.ts";

const MB = 1024 * 1024;
const LARGE_MB = 40;

let t: TestApp;
let up: Upstreams<"beta" | "openai">;
let token: string;

beforeAll(async () => {
  up = await startUpstreams(["beta", "openai"]);
  t = await startTestApp({ env: { ...up.env, CIRCUIT_FAILURE_THRESHOLD: "1" } });
  const admin = t.client(await t.login());
  await admin.models.upsert.mutate({ name: "large", targets: [{ provider: "beta", upstreamModel: "beta" }, { provider: "openai", upstreamModel: "gpt-test" }] });
  token = (await t.userWithRole("USER")).token;
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});
afterEach(() => up.reset());

/** The start of a chat answer declaring `mb` MB: its first MB is sent, then nothing until the client goes. */
function heldLargeAnswer(mb: number) {
  const head = '{"model":"beta","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"';
  return {
    kind: "raw" as const,
    contentType: "application/json",
    headers: { "content-length": String(head.length + mb * MB + 5) },
    pieces: [head, Buffer.alloc(MB, "x")],
    hold: true,
  };
}

const body = JSON.stringify({ model: "large", messages: [{ role: "user", content: "hi" }] });
const post = () => fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body });

/** A request on a connection of its own, which the caller leaves by closing it. */
function requestToLeave(): { leave(): void } {
  const req = request(`${t.url}/v1/chat/completions`, { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, agent: false });
  req.on("error", () => {});
  req.end(body);
  return { leave: () => void req.destroy() };
}

async function roomHolds(bytes: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (UPSTREAM_ANSWER_ROOM_BYTES - upstreamAnswerRoom.free < bytes) {
    if (Date.now() > deadline) throw new Error(`the room never held ${bytes} bytes`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function roomFree(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (upstreamAnswerRoom.free < UPSTREAM_ANSWER_ROOM_BYTES) {
    if (Date.now() > deadline) throw new Error("the room was not given back");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("no room for another large upstream answer", () => {
  it("is a 503 with Retry-After in OpenAI's shape, tries no other provider, and leaves the circuit closed", async () => {
    up.fakes.beta.enqueue(heldLargeAnswer(LARGE_MB), heldLargeAnswer(LARGE_MB));
    const first = requestToLeave();
    await roomHolds((LARGE_MB - 1) * MB);

    const res = await post();
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(res.status, JSON.stringify(body)).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-should-retry")).not.toBe("false");
    expect(body.error.type).toBe("api_error");
    expect(body.error.message).toContain("large upstream answers");
    expect(up.fakes.openai.requests).toHaveLength(0);

    // With a circuit threshold of one, a failure held against beta would have opened it.
    const small = await post();
    expect(small.status).toBe(200);
    expect(up.fakes.beta.requests).toHaveLength(3);

    // The first caller leaves: its upstream call is dropped and the room given back.
    first.leave();
    await up.fakes.beta.waitForAbort(0);
    await roomFree();
  });
});
