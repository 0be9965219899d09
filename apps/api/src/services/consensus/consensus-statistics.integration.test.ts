/**
 * Why majority voting is worth five calls: five independent providers that are each right
 * 70% of the time, voting, are right ≈ 84% of the time (P[at least 3 of 5 right] = 0.837).
 *
 * Five independent upstreams need five provider slots. The product has four upstream slots
 * (beta, deepseek, openai, ollama) plus the offline template, so this test runs the real
 * consensus service, chain, breaker and store directly, with the template slot wired to a
 * fifth OpenAI-protocol server. Every answer still travels over HTTP through the `openai`
 * SDK; only the composition root is bypassed. Each server decides right or wrong from a
 * seeded PRNG keyed by (server, question): deterministic, no flakiness, and independent.
 * Right answers come in assorted formats ("1,234", "1234.0", "The answer is 1234."), so the
 * vote also exercises normalisation; wrong answers come from a few shared distractors, so
 * wrong answers can agree with each other, as real ones do. The vote is a plurality, so it
 * also wins some 2-of-5 questions where the wrong answers split: expect about 90% here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROVIDER_IDS, type TProviderId } from "@switchboard/schema";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { promptOf } from "../../../test/consensus.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../test/fake-openai-server.ts";
import { parseEnv } from "../../env.ts";
import { createOpenAICompatibleProvider } from "../../providers/openai-compatible.ts";
import { createProviderRegistry } from "../gateway/registry.ts";
import type { ChatProvider } from "../../providers/types.ts";
import { createCircuitBreaker } from "../gateway/circuit-breaker.ts";
import { createProviderChain } from "../gateway/provider-chain.ts";
import { createConsensusService, type ConsensusService } from "./consensus-service.ts";
import { createConsensusStore } from "./consensus-store.ts";

const RUNS = 400;
const ACCURACY = 0.7;
const SEED = 20240607;
const CONCURRENCY = 4;

/** mulberry32: a tiny, well-mixed 32-bit PRNG; the same seed always gives the same stream. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const correctAnswer = (question: number) => 1000 + question * 7;
const FORMATS = [(n: number) => n.toLocaleString("en-US"), (n: number) => String(n), (n: number) => `${n}.0`, (n: number) => `The answer is ${n}.`];
const DISTRACTORS = [1, -1, 10];

/** What server `slot` answers to question `q`, and whether that is right. Pure. */
function answerOf(slot: number, q: number): { content: string; right: boolean } {
  const rand = mulberry32(SEED ^ Math.imul(slot + 1, 0x9e3779b1) ^ Math.imul(q + 1, 0x85ebca6b));
  const right = rand() < ACCURACY;
  const value = right ? correctAnswer(q) : correctAnswer(q) + DISTRACTORS[Math.floor(rand() * DISTRACTORS.length)]!;
  return { content: FORMATS[Math.floor(rand() * FORMATS.length)]!(value), right };
}

let t: TestApp;
let servers: FakeOpenAIServer[];
let consensus: ConsensusService;
let userId: string;

beforeAll(async () => {
  servers = await Promise.all(PROVIDER_IDS.map((name, slot) =>
    startFakeOpenAI({
      name,
      defaultBehavior: ({ body }) => ({ kind: "ok", content: answerOf(slot, Number(/^Question (\d+):/.exec(promptOf(body))?.[1])).content }),
    }),
  ));
  t = await startTestApp();
  userId = (await t.userWithRole("USER")).id;

  const providers = Object.fromEntries(
    PROVIDER_IDS.map((id, slot) => [id, createOpenAICompatibleProvider({ id, baseUrl: servers[slot]!.url, apiKey: "sk-test", model: `${id}-model`, configured: true })]),
  ) as Record<TProviderId, ChatProvider>;
  const registry = createProviderRegistry(parseEnv({ PROVIDER_ORDER: PROVIDER_IDS.join(",") }), providers);
  const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000 });
  consensus = createConsensusService({
    chain: createProviderChain({ registry, breaker, timeoutMs: 10_000, idleTimeoutMs: 10_000 }),
    registry,
    breaker,
    store: createConsensusStore(t.app.deps.db.prisma),
    coordination: t.app.deps.coordination,
    log: t.app.deps.log,
    settings: { ratePerMin: 1_000_000, defaultTimeoutMs: 10_000, aggregator: undefined },
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all(servers.map((s) => s.close()));
});

describe("majority voting over five independent 70% providers", () => {
  it(`is right at least 80% of the time over ${RUNS} questions (theory: 83.7%), better than any single provider`, async () => {
    const outcomes: Array<{ q: number; winner: string; agreement: number }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < RUNS) {
          const q = next++;
          const result = await consensus.query({ id: userId, role: "USER" }, { prompt: `Question ${q}: what is ${correctAnswer(q) - 5} + 5?`, strategy: "majority" });
          expect(result.answers.every((a) => a.status === "success")).toBe(true);
          outcomes.push({ q, winner: result.winner.content, agreement: result.agreement });
        }
      }),
    );

    const isRight = (content: string, q: number) => FORMATS.some((f) => f(correctAnswer(q)) === content);
    const majorityAccuracy = outcomes.filter((o) => isRight(o.winner, o.q)).length / RUNS;
    const providerAccuracy = PROVIDER_IDS.map((_, slot) => outcomes.filter((o) => answerOf(slot, o.q).right).length / RUNS);

    // Each simulated provider really is a ~70% provider (independent draws, n = 400: σ ≈ 2.3%).
    for (const accuracy of providerAccuracy) {
      expect(accuracy).toBeGreaterThan(0.62);
      expect(accuracy).toBeLessThan(0.78);
    }
    // Whenever three or more providers are right, the vote must be right: normalisation
    // joins "1,234", "1234.0" and "The answer is 1234." into one group.
    for (const o of outcomes) {
      const rightCount = PROVIDER_IDS.filter((_, slot) => answerOf(slot, o.q).right).length;
      if (rightCount >= 3) expect(isRight(o.winner, o.q), `question ${o.q}`).toBe(true);
      if (isRight(o.winner, o.q)) expect(o.agreement).toBeCloseTo(rightCount / 5, 10);
    }
    expect(majorityAccuracy).toBeGreaterThanOrEqual(0.8);
    expect(majorityAccuracy).toBeGreaterThan(Math.max(...providerAccuracy));
    console.info(
      `majority accuracy ${(majorityAccuracy * 100).toFixed(1)}% over ${RUNS} runs; providers ${providerAccuracy.map((a) => `${(a * 100).toFixed(1)}%`).join(", ")}`,
    );
  });
});
