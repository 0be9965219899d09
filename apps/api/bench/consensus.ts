/**
 * `npm run bench:consensus`: what asking three models costs in latency compared with asking
 * the slowest one alone. Three local OpenAI-protocol upstreams answer after 50, 100 and
 * 200 ms (own process); a real Switchboard runs as its own process (PostgreSQL + Redis,
 * auth, rate limit, every run stored). Measured, each with the same requests:
 *
 *   direct <provider>   POST upstream /v1/chat/completions            (the model alone)
 *   chat.send openai    POST switchboard /trpc/chat.send, pinned      (slowest model through the gateway)
 *   consensus.query     POST switchboard /trpc/consensus.query        (all three in parallel, majority)
 *
 * The ratio consensus / slowest single provider shows the fan-out is parallel: close to 1,
 * where asking one after the other would take 350 ms.
 * Knobs: BENCH_REQUESTS (default 300 per path), BENCH_CONCURRENCY (4), BENCH_WARMUP (40).
 */
import { percentile, post, progress, runLoad, spawnHelper, startBenchApi, type Call } from "./load.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 40);
const DELAYS = { beta: 50, deepseek: 100, openai: 200 } as const;


async function startUpstreams(): Promise<{ urls: Record<keyof typeof DELAYS, string>; stop(): void }> {
  const helper = await spawnHelper(new URL("./consensus-upstreams.ts", import.meta.url), [JSON.stringify(DELAYS)]);
  return { urls: JSON.parse(helper.line), stop: helper.stop };
}

const run = async (name: string, call: Call, total: number) =>
  (await runLoad(name, call, { total, concurrency: CONCURRENCY, progressEvery: 10 })).latencies;
const pct = percentile;
const ms = (v: number) => `${v.toFixed(1)} ms`;

async function main(): Promise<void> {
  const upstreams = await startUpstreams();
  const api = await startBenchApi({
    BETA_MODEL_BASE_URL: upstreams.urls.beta,
    DEEPSEEK_API_KEY: "sk-bench",
    DEEPSEEK_BASE_URL: upstreams.urls.deepseek,
    OPENAI_API_KEY: "sk-bench",
    OPENAI_BASE_URL: upstreams.urls.openai,
    PROVIDER_ORDER: "beta,deepseek,openai,template",
  });
  try {
    const auth = api.auth;
    const messages = [{ role: "user", content: "What is 6 x 7?" }];
    const paths: Array<[string, Call]> = [
      ...(Object.keys(DELAYS) as Array<keyof typeof DELAYS>).map((id): [string, Call] => [
        `direct ${id}`,
        post(`${upstreams.urls[id]}/chat/completions`, { model: id, messages }),
      ]),
      ["chat.send openai", post(`${api.url}/trpc/chat.send`, { message: "What is 6 x 7?", provider: "openai" }, auth)],
      ["consensus.query", post(`${api.url}/trpc/consensus.query`, { prompt: "What is 6 x 7?", strategy: "majority" }, auth)],
    ];

    for (const [name, call] of paths) await run(`${name} (warm-up)`, call, WARMUP);
    const results = new Map<string, number[]>();
    for (const [name, call] of paths) results.set(name, await run(name, call, REQUESTS));
    progress("");

    const consensus = results.get("consensus.query")!;
    const slowest = results.get("direct openai")!;
    const viaGateway = results.get("chat.send openai")!;
    console.log(`\nSwitchboard consensus benchmark (${REQUESTS} requests per path at concurrency ${CONCURRENCY}; node ${process.version})`);
    console.log("upstreams answer after 50 / 100 / 200 ms (beta / deepseek / openai); consensus asks all three, majority, run stored\n");
    console.log("path                 p50         p99");
    for (const [name, lat] of results) console.log(`${name.padEnd(20)} ${ms(pct(lat, 50)).padEnd(11)} ${ms(pct(lat, 99))}`);
    const ratio = (a: number[], b: number[], p: number) => (pct(a, p) / pct(b, p)).toFixed(3);
    console.log(`\nconsensus / slowest single provider (direct openai):    p50 ×${ratio(consensus, slowest, 50)}   p99 ×${ratio(consensus, slowest, 99)}`);
    console.log(`consensus / slowest provider through Switchboard:       p50 ×${ratio(consensus, viaGateway, 50)}   p99 ×${ratio(consensus, viaGateway, 99)}`);
    console.log(`one after the other would take at least ${DELAYS.beta + DELAYS.deepseek + DELAYS.openai} ms`);
  } finally {
    await api.stop();
    upstreams.stop();
  }
}

await main();
