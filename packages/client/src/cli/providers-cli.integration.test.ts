/**
 * `switchboard providers|models`, spawned as a real process against a real server: add a
 * provider, test it, route a model to it with a weight and prices, list both, and remove.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/run-cli.ts";
import { startTestApp, type TestApp } from "../../../../apps/api/test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../../apps/api/test/fake-openai-server.ts";

const cli = (args: string[], env: Record<string, string>) => runCli(args, { env });

let t: TestApp;
let upstream: FakeOpenAIServer;
let env: Record<string, string>;

beforeAll(async () => {
  upstream = await startFakeOpenAI({ name: "groq" });
  t = await startTestApp({ mode: "embedded" });
  env = { SWITCHBOARD_URL: t.url, SWITCHBOARD_TOKEN: await t.login() };
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

describe("switchboard providers, models (CLI)", () => {
  it("adds, tests, routes, lists and removes", async () => {
    const added = await cli(["providers", "add", "groq", "--kind", "openai-compatible", "--base-url", upstream.url, "--api-key", "sk-cli-0123456789abcdwxyz", "--models", "llama-3", "--header", "x-team=blue"], env);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain("Added provider groq");

    const tested = await cli(["providers", "test", "groq"], env);
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/^ok in \d+ ms/);

    const listed = await cli(["providers", "list"], env);
    expect(listed.stdout).toContain("groq");
    expect(listed.stdout).toContain("sk-…wxyz");
    expect(listed.stdout).not.toContain("sk-cli-0123456789abcdwxyz");

    const set = await cli(["models", "set", "fast", "--target", "groq:llama-3:3", "--target", "template:switchboard-template-1", "--input-price", "0.5", "--output-price", "1.5", "--cache-ttl", "600"], env);
    expect(set.code, set.stderr).toBe(0);
    const models = await cli(["models", "list", "--json"], env);
    const fast = (JSON.parse(models.stdout) as { items: Array<{ name: string; targets: unknown[]; inputPricePerMTok: number }> }).items.find((m) => m.name === "fast");
    expect(fast).toMatchObject({ inputPricePerMTok: 0.5, cacheTtlSec: 600, targets: [{ provider: "groq", upstreamModel: "llama-3", weight: 3 }, { provider: "template", upstreamModel: "switchboard-template-1", weight: null }] });

    // In use by a route: refused with the route named, exit code 1.
    const refused = await cli(["providers", "remove", "groq"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("fast");

    const missing = await cli(["models", "set", "bad", "--target", "nobody:x"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("targets.0.provider");
    const noTime = await cli(["models", "set", "fast", "--target", "groq:llama-3", "--cache-ttl", "0"], env);
    expect(noTime.code).toBe(1);
    expect(noTime.stderr).toContain("cacheTtlSec");
  });
});
