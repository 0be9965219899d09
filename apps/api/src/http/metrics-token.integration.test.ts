/**
 * GET /metrics with METRICS_TOKEN set, on a real server: only `Authorization: Bearer
 * <token>` opens it; anything else is a 401 with WWW-Authenticate, never a 500, and a
 * person's credentials (access token, API key) are no scrape credential. Unset, the
 * endpoint is public (server.integration.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";

const TOKEN = "metrics-token-0123456789abcdef0123456789abcdef";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ mode: "embedded", env: { METRICS_TOKEN: TOKEN } });
});
afterAll(async () => t?.close());

const scrape = (authorization?: string) => fetch(`${t.url}/metrics`, { headers: authorization === undefined ? {} : { authorization } });

describe("GET /metrics with METRICS_TOKEN", () => {
  it("serves the exposition to the bearer of the token (the scheme in any case)", async () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      const res = await scrape(header);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/text\/plain/);
      expect(await res.text()).toMatch(/^switchboard_process_cpu_seconds_total/m);
    }
  });

  it.each([
    ["no Authorization", undefined],
    ["a wrong token of the same length", `Bearer ${TOKEN.slice(0, -1)}x`],
    ["a prefix of the token", `Bearer ${TOKEN.slice(0, 8)}`],
    ["the token with something after it", `Bearer ${TOKEN} ${TOKEN}`],
    ["the token as Basic credentials", `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString("base64")}`],
    ["the bare token", TOKEN],
    ["an empty Bearer", "Bearer "],
  ])("%s → 401 with WWW-Authenticate: Bearer", async (_name, header) => {
    const res = await scrape(header);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("UNAUTHORIZED");
    expect(body.error.message).toMatch(/METRICS_TOKEN/);
  });

  it("a SuperAdmin's access token or API key is not a scrape credential", async () => {
    const accessToken = await t.login();
    expect((await scrape(`Bearer ${accessToken}`)).status).toBe(401);
    const key = await t.client(accessToken).keys.create.mutate({ name: "scraper", scopes: ["read:metrics"] });
    expect((await scrape(`Bearer ${key.key}`)).status).toBe(401);
  });

  it("HEAD is refused the same way", async () => {
    const res = await fetch(`${t.url}/metrics`, { method: "HEAD" });
    expect(res.status).toBe(401);
    expect((await fetch(`${t.url}/metrics`, { method: "HEAD", headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });
});
