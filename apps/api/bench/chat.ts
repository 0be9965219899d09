/**
 * `npm run bench:chat`: what Switchboard adds on top of a model call. Starts a local
 * OpenAI-protocol upstream (own process) and a real Switchboard (own process, PostgreSQL +
 * Redis, auth on, chat rate limit on but high, per-call records on), then measures the same
 * non-stream chat call three ways:
 *
 *   direct    POST upstream /v1/chat/completions
 *   openai    POST switchboard /v1/chat/completions   (auth, rate limit, chain)
 *   chat.send POST switchboard /trpc/chat.send        (the same + conversation and both messages stored)
 *
 * at concurrency 1 (p50/p99 latency; "added" = minus direct) and at concurrency 32 (req/s,
 * and CPU time per request of the serving process: the upstream for direct calls). Then the
 * same request streamed (`stream: true`), direct and through /v1, at concurrency 1: time to
 * first token, i.e. to the first chunk carrying text, and what Switchboard adds to it.
 * Knobs: BENCH_REQUESTS_C1 (default 1000), BENCH_REQUESTS_C32 (default 4000), BENCH_WARMUP (300),
 * BENCH_STREAM_REQUESTS (default 500), BENCH_PATHS (comma list, default all three; "stream" for the streaming row), BENCH_CPU_PROF=<dir> (the Switchboard process
 * writes a V8 CPU profile there when it stops: open it in Chrome DevTools or speedscope).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { percentile, post, progress, runLoad, spawnHelper, startBenchApi, type Call } from "./load.ts";
import { cpuMsOf } from "../test/proc.ts";

const C1 = Number(process.env.BENCH_REQUESTS_C1 ?? 1000);
const C32 = Number(process.env.BENCH_REQUESTS_C32 ?? 4000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 300);
const PATHS = process.env.BENCH_PATHS?.split(",");
const STREAM_REQUESTS = Number(process.env.BENCH_STREAM_REQUESTS ?? 500);

/** The first chunk carrying text (the role chunk that precedes it has content ""). */
const FIRST_TEXT = /"content":"[^"]/;

/** A streaming call that records its time to first token, then reads the stream to its end. */
function streamCall(url: string, body: unknown, headers: Record<string, string>, ttfts: number[]): Call {
  const payload = JSON.stringify({ ...(body as object), stream: true });
  return async () => {
    const t0 = performance.now();
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: payload });
    if (res.status !== 200 || !res.body) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const decoder = new TextDecoder();
    let seen = "";
    let first: number | undefined;
    for await (const bytes of res.body) {
      if (first === undefined) {
        seen += decoder.decode(bytes as Uint8Array, { stream: true });
        if (FIRST_TEXT.test(seen)) first = performance.now() - t0;
      }
    }
    if (first === undefined) throw new Error(`${url}: no text in the stream`);
    ttfts.push(first);
  };
}
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;


async function startUpstream(): Promise<{ url: string; pid: number; stop(): void }> {
  const helper = await spawnHelper(new URL("./upstream.ts", import.meta.url));
  return { url: helper.line, pid: helper.pid, stop: helper.stop };
}

const run = (name: string, call: Call, total: number, concurrency: number) => runLoad(name, call, { total, concurrency });
const pct = percentile;
const ms = (v: number) => `${v.toFixed(2)} ms`;

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const api = await startBenchApi({
    BETA_MODEL_BASE_URL: upstream.url,
    PROVIDER_ORDER: "beta,template",
    ...(CPU_PROF_DIR ? { NODE_OPTIONS: `--import ${fileURLToPath(new URL("./cpu-profile.mjs", import.meta.url))}`, CPU_PROF_DIR } : {}),
  });
  try {
    const auth = api.auth;
    const messages = [{ role: "user", content: "Say hello" }];
    const calls = ([
      ["direct", post(`${upstream.url}/chat/completions`, { model: "beta", messages })],
      ["openai", post(`${api.url}/v1/chat/completions`, { model: "auto", messages }, auth)],
      ["chat.send", post(`${api.url}/trpc/chat.send`, { message: "Say hello" }, auth)],
    ] satisfies Array<[string, Call]>).filter(([name]) => name === "direct" || !PATHS || PATHS.includes(name));

    for (const [name, call] of calls) await run(name, call, WARMUP, 8);
    const c1 = new Map<string, number[]>();
    const c32 = new Map<string, { rps: number; p50: number; p99: number; cpuMs: number }>();
    for (const [name, call] of calls) c1.set(name, (await run(name, call, C1, 1)).latencies);
    for (const [name, call] of calls) {
      // The process doing the work: the upstream for direct calls, Switchboard otherwise.
      const pid = name === "direct" ? upstream.pid : api.pid;
      const cpuBefore = cpuMsOf(pid);
      const { latencies, seconds } = await run(name, call, C32, 32);
      c32.set(name, { rps: C32 / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), cpuMs: (cpuMsOf(pid) - cpuBefore) / C32 });
    }
    const streams: Array<[string, number[]]> = [];
    if (!PATHS || PATHS.includes("stream")) {
      for (const [name, url, body, headers] of [
        ["direct", `${upstream.url}/chat/completions`, { model: "beta", messages }, {}],
        ["openai", `${api.url}/v1/chat/completions`, { model: "auto", messages }, auth],
      ] as const) {
        const ttfts: number[] = [];
        await run(`${name} stream`, streamCall(url, body, headers, []), WARMUP, 8);
        await run(`${name} stream`, streamCall(url, body, headers, ttfts), STREAM_REQUESTS, 1);
        streams.push([name, ttfts.sort((a, b) => a - b)]);
      }
    }
    progress("");

    const direct = c1.get("direct")!;
    console.log(`\nSwitchboard chat benchmark (${C1} requests at concurrency 1, ${C32} at concurrency 32; node ${process.version})`);
    console.log("non-stream chat completion; upstream answers at once; Switchboard: PostgreSQL + Redis, auth, rate limit\n");
    console.log(`load average at the end: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} (2 cores here; latency is only meaningful on an idle machine, CPU/req always is)\n`);
    console.log("path        c=1 p50     c=1 p99     added p50   added p99   c=32 req/s  c=32 p50    c=32 p99    CPU/req");
    for (const [name] of calls) {
      const lat = c1.get(name)!;
      const hi = c32.get(name)!;
      const added = name === "direct" ? ["—", "—"] : [ms(pct(lat, 50) - pct(direct, 50)), ms(pct(lat, 99) - pct(direct, 99))];
      console.log(
        [name.padEnd(10), ms(pct(lat, 50)).padEnd(11), ms(pct(lat, 99)).padEnd(11), added[0]!.padEnd(11), added[1]!.padEnd(11),
          hi.rps.toFixed(0).padEnd(11), ms(hi.p50).padEnd(11), ms(hi.p99).padEnd(11), ms(hi.cpuMs)].join(" "),
      );
    }
    if (streams.length > 0) {
      const [, directTtft] = streams[0]!;
      console.log(`\nstreaming (${STREAM_REQUESTS} requests at concurrency 1): time to first token`);
      console.log("path        TTFT p50    TTFT p99    added p50   added p99");
      for (const [name, ttft] of streams) {
        const added = name === "direct" ? ["—", "—"] : [ms(pct(ttft, 50) - pct(directTtft, 50)), ms(pct(ttft, 99) - pct(directTtft, 99))];
        console.log([`${name}`.padEnd(10), ms(pct(ttft, 50)).padEnd(11), ms(pct(ttft, 99)).padEnd(11), added[0]!.padEnd(11), added[1]!].join(" "));
      }
    }
  } finally {
    await api.stop();
    upstream.stop();
  }
}

await main();
