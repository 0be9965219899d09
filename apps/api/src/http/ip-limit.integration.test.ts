/** IP_RATE_LIMIT_PER_MIN as a client sees it: every surface counts, probes never do. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";

const LIMIT = 4;
let t: TestApp;
let limited: TestApp;
beforeAll(async () => {
  // One after the other: PGlite's start-up runs on this thread and, on a busy machine, held
  // it long enough that the other app's 3-second Redis start-up deadline passed unanswered.
  limited = await startTestApp({ env: { IP_RATE_LIMIT_PER_MIN: String(LIMIT) } });
  t = await startTestApp({ mode: "embedded" });
});
afterAll(async () => Promise.all([t?.close(), limited?.close()]));

describe("per-IP limit", () => {
  it("is off by default", async () => {
    for (let i = 0; i < LIMIT * 3; i++) expect((await fetch(`${t.url}/api/health`)).status).toBe(200);
  });

  it("answers 429 with Retry-After past the limit, on every surface; probes stay up", async () => {
    const paths = ["/api/health", "/trpc/health.check", "/api/info", "/v1/models"];
    for (const path of paths) expect((await fetch(`${limited.url}${path}`)).status, path).not.toBe(429);
    const refused = await fetch(`${limited.url}/api/health`);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("TOO_MANY_REQUESTS");
    const v1 = await fetch(`${limited.url}/v1/models`);
    expect(v1.status).toBe(429);
    expect(JSON.stringify(await v1.json())).toMatch(/rate|Too many/i);
    expect((await fetch(`${limited.url}/trpc/health.check`)).status).toBe(429);
    for (const probe of ["/health", "/ready", "/metrics"]) expect((await fetch(`${limited.url}${probe}`)).status, probe).toBe(200);
  });
});
