import { describe, expect, it } from "vitest";
import { ZConsensusQueryInput, type TConsensusQueryInput, type TProviderId } from "@switchboard/schema";
import { parseEnv } from "../../env.ts";
import { createProviderRegistry } from "../gateway/registry.ts";
import { AppError } from "../errors.ts";
import { consensusConfigProblem } from "./index.ts";
import { defaultProviders, planRun } from "./plan.ts";

/** Providers are configured, never called: these tests only plan. */
function registryWith(...ids: Array<"beta" | "deepseek" | "openai" | "ollama">) {
  return createProviderRegistry(
    parseEnv({
      ...(ids.includes("beta") ? { BETA_MODEL_BASE_URL: "http://127.0.0.1:9/v1" } : {}),
      ...(ids.includes("deepseek") ? { DEEPSEEK_API_KEY: "sk-x" } : {}),
      ...(ids.includes("openai") ? { OPENAI_API_KEY: "sk-x" } : {}),
      ...(ids.includes("ollama") ? { OLLAMA_BASE_URL: "http://127.0.0.1:9" } : {}),
    }),
  );
}

/** A provider freeze's refusal, as the emergency service gives it. */
const freezeOf = (id: TProviderId) =>
  new AppError("EMERGENCY_STOP", `Emergency stop (provider:${id}): drill`, { details: { reason: "drill", scope: `provider:${id}` }, retryAfterSec: id === "ollama" ? 10 : 30 });

const plan = (input: Partial<TConsensusQueryInput>, registry = registryWith("beta", "openai", "ollama"), frozen: TProviderId[] = []) =>
  planRun(ZConsensusQueryInput.parse({ prompt: "2+2?", strategy: "majority", ...input }), {
    registry,
    frozenRefusal: (id) => (frozen.includes(id) ? freezeOf(id) : null),
    defaultTimeoutMs: 30_000,
    defaultAggregator: undefined,
  });

const refusal = (fn: () => unknown): AppError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
};

describe("planRun", () => {
  it("defaults to every active provider except the template, in PROVIDER_ORDER; quorum half of them, rounded up", () => {
    const p = plan({});
    expect(p.providers.map((x) => x.id)).toEqual(["beta", "openai", "ollama"]);
    expect(p).toMatchObject({ quorum: 2, timeoutMs: 30_000, excluded: [], aggregator: null });
    expect(plan({ providers: ["beta", "openai"] }).quorum).toBe(1);
    expect(plan({ providers: ["beta", "openai", "ollama", "template"] }).quorum).toBe(2);
    expect(plan({}, registryWith("beta", "deepseek", "openai", "ollama")).quorum).toBe(2);
  });

  it("asks the template only when named, or when nothing else is active", () => {
    expect(plan({ providers: ["template", "beta"] }).providers.map((x) => x.id)).toEqual(["template", "beta"]);
    expect(defaultProviders(registryWith())).toEqual(["template"]);
  });

  it("fewer than two providers available is a 400 that says which are", () => {
    expect(refusal(() => plan({}, registryWith("beta")))).toMatchObject({
      code: "BAD_REQUEST",
      message: "Consensus needs at least 2 available providers; available: beta",
    });
    expect(refusal(() => plan({}, registryWith()))).toMatchObject({ code: "BAD_REQUEST", message: /available: template$/ });
  });

  it("leaves frozen providers out and names them when too few remain", () => {
    const p = plan({}, undefined, ["openai"]);
    expect(p.providers.map((x) => x.id)).toEqual(["beta", "ollama"]);
    expect(p.excluded).toEqual([{ provider: "openai", reason: "frozen" }]);
    // Short only because of the freeze: the freeze's 503 (served again once it is lifted).
    expect(refusal(() => plan({ providers: ["beta", "openai"] }, undefined, ["openai"]))).toMatchObject({
      code: "EMERGENCY_STOP",
      message: "Consensus needs at least 2 available providers; available: beta; frozen by an emergency stop: openai",
      retryAfterSec: 30,
      details: { reason: "drill", scope: "provider:openai", availableProviders: ["beta"], frozenProviders: ["openai"] },
    });
    expect(refusal(() => plan({}, registryWith("beta", "openai"), ["openai"])).code).toBe("EMERGENCY_STOP");
    // Several frozen: the wait is until the first of them comes back.
    expect(refusal(() => plan({ providers: ["beta", "openai", "ollama"] }, undefined, ["openai", "ollama"]))).toMatchObject({ code: "EMERGENCY_STOP", retryAfterSec: 10 });
    // Short with or without it: the configuration or the request must change first.
    expect(refusal(() => plan({}, registryWith("beta"), ["beta"])).code).toBe("BAD_REQUEST");
    expect(refusal(() => plan({ quorum: 5 }, registryWith("beta", "openai"), ["openai"])).code).toBe("BAD_REQUEST");
    expect(refusal(() => plan({ strategy: "synthesize", aggregator: "template" }, registryWith("beta", "openai"), ["openai"]))).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/template cannot synthesize/),
    });
  });

  it("refuses providers that are not configured", () => {
    const error = refusal(() => plan({ providers: ["beta", "deepseek"] }));
    expect(error).toMatchObject({ code: "BAD_REQUEST", message: "Provider deepseek not configured (providers.list shows the providers)" });
    expect(error.details).toEqual({ inactiveProviders: ["deepseek"], inactiveCount: 1, activeProviders: ["beta", "openai", "ollama", "template"] });
  });

  it("names only the first few of many unknown providers, and how many more", () => {
    const unknown = Array.from({ length: 5_000 }, (_, i) => `nope${i}`);
    const error = refusal(() => plan({ providers: ["beta", ...unknown] }));
    expect(error.message).toBe("Providers nope0, nope1, nope2, nope3, nope4 and 4,995 more not configured (providers.list shows the providers)");
    expect(error.details).toMatchObject({ inactiveProviders: unknown.slice(0, 5), inactiveCount: 5_000 });
  });

  it("refuses a quorum larger than the providers available (also after a freeze)", () => {
    expect(refusal(() => plan({ quorum: 4 })).message).toBe("Quorum 4 is larger than the 3 available providers (beta, openai, ollama)");
    expect(refusal(() => plan({ providers: ["beta", "openai", "ollama"], quorum: 3 }, undefined, ["ollama"]))).toMatchObject({
      code: "EMERGENCY_STOP",
      message: "Quorum 3 is larger than the 2 available providers (beta, openai); frozen by an emergency stop: ollama",
    });
    expect(plan({ quorum: 3 }).quorum).toBe(3);
  });

  it("synthesize: a named aggregator must be configured and not the template; otherwise none is fixed yet", () => {
    expect(plan({ strategy: "synthesize", aggregator: "openai" }).aggregator?.id).toBe("openai");
    expect(plan({ strategy: "synthesize" }).aggregator).toBeNull();
    expect(plan({ strategy: "majority", aggregator: "openai" }).aggregator).toBeNull();
    expect(refusal(() => plan({ strategy: "synthesize", aggregator: "deepseek" })).message).toMatch(/Aggregator deepseek is not a configured provider/);
    expect(refusal(() => plan({ strategy: "synthesize", aggregator: "template" })).message).toMatch(/template cannot synthesize/);
  });

  it("each plan has its own run id", () => {
    expect(plan({}).id).not.toBe(plan({}).id);
  });
});

describe("ZConsensusQueryInput", () => {
  const issues = (input: unknown) => ZConsensusQueryInput.safeParse(input).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);

  it.each([
    [{ prompt: "   ", strategy: "majority" }, "prompt: Prompt is empty"],
    [{ prompt: "x", strategy: "vote" }, 'strategy: Unknown strategy "vote"; expected one of majority, medoid, synthesize'],
    [{ prompt: "x", strategy: "majority", providers: ["GPT 9", "beta"] }, "providers.0: A provider name is"],
    [{ prompt: "x", strategy: "majority", providers: ["beta"] }, "providers: Consensus needs at least 2 providers"],
    [{ prompt: "x", strategy: "majority", providers: ["beta", "beta"] }, "providers: A provider is listed twice"],
    [{ prompt: "x", strategy: "majority", providers: ["beta", "openai"], quorum: 3 }, "quorum: Quorum 3 is larger than the 2 providers asked"],
    [{ prompt: "x", strategy: "majority", quorum: 0 }, "quorum: Quorum must be at least 1"],
  ])("refuses %j", (input, expected) => {
    expect(issues(input)?.join("\n")).toContain(expected);
  });
});

describe("consensusConfigProblem (checked before the server starts)", () => {
  const env = (aggregator: TProviderId | undefined) => ({ CONSENSUS_RATE_LIMIT_PER_MIN: 20, CONSENSUS_TIMEOUT_MS: 30_000, CONSENSUS_AGGREGATOR: aggregator });

  it("accepts no aggregator, or an active one", () => {
    expect(consensusConfigProblem(env(undefined), registryWith("beta"))).toBeNull();
    expect(consensusConfigProblem(env("openai"), registryWith("beta", "openai"))).toBeNull();
  });

  it("refuses an aggregator that is not active, or the template", () => {
    expect(consensusConfigProblem(env("openai"), registryWith("beta"))).toBe(
      "CONSENSUS_AGGREGATOR=openai must be an active provider other than the template (active: beta)",
    );
    expect(consensusConfigProblem(env("template"), registryWith("beta"))).toMatch(/^CONSENSUS_AGGREGATOR=template must be/);
  });
});
