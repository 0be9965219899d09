/**
 * The soak: two cluster instances (real processes) on PostgreSQL and a test-owned Redis,
 * under mixed traffic for `seconds`, while things go wrong on purpose:
 *
 * - the upstream fails some calls (500, 429 with Retry-After, streams cut after two chunks);
 * - the fleet is frozen and unfrozen every minute (once in a short run);
 * - Redis is killed and restarted empty halfway through;
 * - near the end, a burst arrives open-loop at 4× the rate the fleet just sustained.
 *
 * Traffic: chat.send (stored conversations), /v1/chat/completions (JSON and stream),
 * consensus.query, GET /v1/models and sign-ins, round-robin over both instances.
 *
 * It samples each instance's RSS (/proc) and event-loop delay (p99 from /metrics), counts
 * outcomes by status and error code, and checks (violations): every acknowledged chat.send
 * reply is in the database; nothing gated was served between a freeze's acknowledgement and
 * the unfreeze; every refusal during the burst is a 429/503 with Retry-After; no request
 * went unanswered (30 s client timeout); memory does not trend upward, judged on floors
 * (memory-trend.ts): the live heap after a full GC that the soak forces in each instance at
 * regular intervals (test/memory-probe.mjs), and the lowest RSS of the first vs the last third.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { CLUSTER_SUPERADMIN, startApiProcess, type ApiProcess } from "./api-process.ts";
import { createTestDatabase } from "./database.ts";
import { startFakeOpenAI, type FakeBehavior } from "./fake-openai-server.ts";
import { judgeMemoryTrend, type MemoryPoint } from "./memory-trend.ts";
import { memoryProbeEnv, readMemory } from "./memory-reading.ts";
import { rssMbOf as procRssMb } from "./proc.ts";
import { startRedisServer } from "./redis-server.ts";

export interface SoakSample {
  atSec: number;
  rssMb: number[];
  eventLoopP99Ms: number[];
  requests: number;
}

/** Each instance's memory right after a forced full GC. */
export interface SoakFloor {
  atSec: number;
  /** heapUsed + external after the GC, MB. */
  liveMb: number[];
  rssMb: number[];
}

export interface SoakReport {
  seconds: number;
  samples: SoakSample[];
  floors: SoakFloor[];
  /** "<kind> <status>[ <code>]" → count */
  outcomes: Record<string, number>;
  freezes: number;
  burst: { rate: number; sent: number; statuses: Record<string, number>; rssBeforeMb: number[]; rssAfterMb: number[] };
  acknowledgedChats: number;
  violations: string[];
}

type Kind = "chat.send" | "v1" | "v1-stream" | "consensus" | "models" | "sign-in";
const MIX: Array<[Kind, number]> = [["chat.send", 3], ["v1", 4], ["v1-stream", 3], ["consensus", 1], ["models", 1]];
const GATED: ReadonlySet<Kind> = new Set(["chat.send", "v1", "v1-stream", "consensus", "models"]);

interface Outcome {
  kind: Kind;
  start: number;
  end: number;
  status: number;
  code?: string;
  /** The refusal's own message, kept for a violation so a failed run says what answered. */
  message?: string;
}

const rssMbOf = (pid: number) => Math.round(procRssMb(pid));

/** Faults by call number, so every run sees the same mix. */
function upstreamBehavior({ index, body }: { index: number; body: { stream?: boolean } }): FakeBehavior {
  const n = index % 100;
  if (n < 4) return { kind: "status", status: 500 };
  if (n < 7) return { kind: "status", status: 429, retryAfter: "1" };
  if (n < 10 && body.stream) return { kind: "cut", afterChunks: 2, content: "one two three four five" };
  return { kind: "ok", content: "Soak reply with a handful of words.", chunkDelayMs: body.stream ? 1 : 0 };
}

export async function runSoak(opts: { seconds: number; log?: (line: string) => void }): Promise<SoakReport> {
  const log = opts.log ?? (() => {});
  const seconds = opts.seconds;
  const violations: string[] = [];
  const outcomes: Outcome[] = [];
  const counts: Record<string, number> = {};
  const acknowledged: string[] = [];
  const samples: SoakSample[] = [];
  const floors: SoakFloor[] = [];
  const frozenWindows: Array<{ from: number; to: number }> = [];

  const probeDir = await mkdtemp(join(tmpdir(), "switchboard-soak-memory-"));
  const redis = await startRedisServer();
  const db = await createTestDatabase();
  const upstream = await startFakeOpenAI({ name: "soak", defaultBehavior: upstreamBehavior });
  setInterval(() => void (upstream.requests.length = 0), 1_000).unref();
  const apis: ApiProcess[] = [];
  try {
    const env = {
      NODE_ENV: "production",
      // Two upstream providers (one fake server) so consensus has two models to ask.
      BETA_MODEL_BASE_URL: upstream.url,
      OPENAI_API_KEY: "sk-soak",
      OPENAI_BASE_URL: upstream.url,
      PROVIDER_ORDER: "beta,openai,template",
      CHAT_RATE_LIMIT_PER_MIN: "1000000",
      CONSENSUS_RATE_LIMIT_PER_MIN: "1000000",
      LOGIN_RATE_LIMIT_PER_MIN: "1000000",
      LOGIN_IP_RATE_LIMIT_PER_MIN: "1000000",
      ACCESS_TOKEN_TTL_SEC: "86400",
      // Low enough that the burst reaches it on a small machine: shedding is what is tested.
      MAX_IN_FLIGHT_REQUESTS: "48",
      CIRCUIT_FAILURE_THRESHOLD: "1000",
      ...memoryProbeEnv(probeDir),
    };
    for (let i = 0; i < 2; i++) {
      apis.push(await startApiProcess({ databaseUrl: db.url, redisUrl: redis.url, redisKeyPrefix: "soak:", env }));
    }
    const urls = apis.map((a) => a.url);
    const signIn = async (url: string) => {
      const res = await fetch(`${url}/trpc/auth.login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(CLUSTER_SUPERADMIN) });
      if (res.status !== 200) throw new Error(`sign-in answered ${res.status}`);
      return `Bearer ${((await res.json()) as { result: { data: { accessToken: string } } }).result.data.accessToken}`;
    };
    const authorization = await signIn(urls[0]!);
    const headers = { "content-type": "application/json", authorization };

    const record = (o: Outcome) => {
      outcomes.push(o);
      const key = `${o.kind} ${o.status}${o.code ? ` ${o.code}` : ""}`;
      counts[key] = (counts[key] ?? 0) + 1;
    };

    /** One request of `kind`; resolves with its outcome (never rejects). */
    const send = async (kind: Kind, url: string): Promise<Outcome> => {
      const start = Date.now();
      const chat = { model: "auto", messages: [{ role: "user", content: "soak" }] };
      const req: { path: string; init: RequestInit } =
        kind === "chat.send" ? { path: "/trpc/chat.send", init: { method: "POST", headers, body: JSON.stringify({ message: "soak message" }) } }
        : kind === "v1" ? { path: "/v1/chat/completions", init: { method: "POST", headers, body: JSON.stringify(chat) } }
        : kind === "v1-stream" ? { path: "/v1/chat/completions", init: { method: "POST", headers, body: JSON.stringify({ ...chat, stream: true }) } }
        : kind === "consensus" ? { path: "/trpc/consensus.query", init: { method: "POST", headers, body: JSON.stringify({ prompt: "2+2?", strategy: "majority" }) } }
        : kind === "models" ? { path: "/v1/models", init: { headers } }
        : { path: "/trpc/auth.login", init: { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(CLUSTER_SUPERADMIN) } };
      try {
        const res = await fetch(`${url}${req.path}`, { ...req.init, signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        let code: string | undefined;
        let message: string | undefined;
        if (res.status !== 200) {
          // tRPC's data.code is the generic SERVICE_UNAVAILABLE; data.appCode says which one.
          code = (/"appCode":"([A-Z_]+)"/.exec(text) ?? /"code":"([A-Z_a-z]+)"/.exec(text))?.[1];
          // Every refusal says when to retry, a freeze's included (its expiry, or a default).
          if ((res.status === 429 || res.status === 503) && !res.headers.get("retry-after")) {
            code = `${code ?? "no code"} (no Retry-After)`;
            message = /"message":"((?:[^"\\]|\\.){0,160})/.exec(text)?.[1];
          }
        } else if (kind === "v1-stream" && !text.includes("[DONE]")) {
          code = "stream_broken";
        } else if (kind === "chat.send") {
          const id = /"messageId":"([^"]+)"/.exec(text)?.[1];
          if (id) acknowledged.push(id);
        }
        return { kind, start, end: Date.now(), status: res.status, ...(code ? { code } : {}), ...(message ? { message } : {}) };
      } catch (error) {
        const name = (error as Error).name;
        return { kind, start, end: Date.now(), status: 0, code: name === "TimeoutError" ? "client_timeout" : "network_error" };
      }
    };

    const started = Date.now();
    const deadline = started + seconds * 1000;
    const elapsed = () => (Date.now() - started) / 1000;
    let stop = false;
    let paused = false; // the burst runs alone
    let next = 0;
    const weights = MIX.flatMap(([kind, w]) => Array<Kind>(w).fill(kind));

    const worker = async (id: number) => {
      for (let i = 0; !stop; i++) {
        if (paused) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const kind: Kind = i % 40 === 39 ? "sign-in" : weights[(i * 7 + id) % weights.length]!;
        record(await send(kind, urls[next++ % urls.length]!));
      }
    };

    const sampler = setInterval(async () => {
      const rssMb = apis.map((a) => rssMbOf(a.pid));
      const eventLoopP99Ms = await Promise.all(
        urls.map(async (u) => {
          const text = await fetch(`${u}/metrics`).then((r) => r.text(), () => "");
          const v = /switchboard_nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? ([0-9.e+-]+)/.exec(text)?.[1];
          return v === undefined ? NaN : Math.round(Number(v) * 10_000) / 10;
        }),
      );
      const sample = { atSec: Math.round(elapsed()), rssMb, eventLoopP99Ms, requests: outcomes.length };
      samples.push(sample);
      log(`[soak] ${String(sample.atSec).padStart(4)} s  RSS ${rssMb.join(" / ")} MB  event-loop p99 ${eventLoopP99Ms.join(" / ")} ms  ${sample.requests} requests`);
    }, Math.max(2_000, Math.min(10_000, (seconds * 1000) / 12)));

    // Floors: a full GC in each instance, then what it still holds (20 to 30 readings a run).
    let reading = false;
    const floorSampler = setInterval(async () => {
      if (reading) return;
      reading = true;
      try {
        const atSec = Math.round(elapsed());
        const live = await Promise.all(apis.map((a) => readMemory(a.pid, probeDir, { gc: true }, 20_000)));
        const floor = { atSec, liveMb: live.map((r) => Math.round(((r.usage.heapUsed + r.usage.external) / 1048576) * 10) / 10), rssMb: apis.map((a) => rssMbOf(a.pid)) };
        floors.push(floor);
        log(`[soak] ${String(atSec).padStart(4)} s  after a full GC: live heap ${floor.liveMb.join(" / ")} MB, RSS ${floor.rssMb.join(" / ")} MB`);
      } catch (error) {
        log(`[soak] no memory reading: ${(error as Error).message}`);
      } finally {
        reading = false;
      }
    }, Math.max(3_000, Math.min(30_000, (seconds * 1000) / 25)));

    // Scheduled events: a freeze every minute (one in a short run), Redis restart halfway,
    // the burst at 80%.
    const freezeAt = seconds >= 120 ? Array.from({ length: Math.floor(seconds / 60) }, (_, i) => i * 60 + 20) : [Math.round(seconds * 0.25)];
    const events = (async () => {
      const at = (sec: number) => new Promise((r) => setTimeout(r, Math.max(0, started + sec * 1000 - Date.now())));
      const plan: Array<[number, () => Promise<void>]> = [
        ...freezeAt.filter((s) => s < seconds * 0.75 || seconds >= 120).map((s): [number, () => Promise<void>] => [s, async () => {
          const admin = { ...headers };
          const res = await fetch(`${urls[0]}/api/admin/emergency/freeze`, { method: "POST", headers: admin, body: JSON.stringify({ reason: "soak freeze" }) });
          const from = Date.now();
          if (res.status !== 200) violations.push(`freeze answered ${res.status}`);
          await new Promise((r) => setTimeout(r, 3_000));
          const to = Date.now();
          const un = await fetch(`${urls[1]}/api/admin/emergency/unfreeze`, { method: "POST", headers: admin, body: JSON.stringify({ reason: "soak unfreeze" }) });
          if (un.status !== 200) violations.push(`unfreeze answered ${un.status}`);
          frozenWindows.push({ from, to });
          log(`[soak] ${elapsed().toFixed(0)} s  froze and unfroze the fleet`);
        }]),
        [Math.round(seconds * 0.5), async () => {
          await redis.kill();
          log(`[soak] ${elapsed().toFixed(0)} s  Redis killed`);
          await new Promise((r) => setTimeout(r, 2_000));
          await redis.restart();
          log(`[soak] ${elapsed().toFixed(0)} s  Redis restarted (empty)`);
        }],
      ];
      for (const [sec, run] of plan.sort((a, b) => a[0] - b[0])) {
        if (sec >= seconds) break;
        await at(sec);
        await run();
      }
    })();

    const workers = Array.from({ length: 6 }, (_, i) => worker(i));
    // The burst: measure what the fleet just sustained, then 4× that, open-loop.
    const burstAt = started + seconds * 0.8 * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, burstAt - Date.now())));
    const window = outcomes.filter((o) => o.end >= Date.now() - 5_000 && o.kind !== "sign-in");
    const sustained = Math.max(20, window.length / 5);
    const rate = Math.round(sustained * 4);
    paused = true;
    await new Promise((r) => setTimeout(r, 500));
    const rssBeforeMb = apis.map((a) => rssMbOf(a.pid));
    const burstSeconds = Math.min(5, Math.max(2, seconds * 0.05));
    const burstOutcomes: Array<Promise<Outcome>> = [];
    const tick = 10;
    const perTick = rate / (1000 / tick);
    let owed = 0;
    const burstEnd = Date.now() + burstSeconds * 1000;
    while (Date.now() < burstEnd) {
      owed += perTick;
      for (; owed >= 1; owed--) burstOutcomes.push(send("v1", urls[burstOutcomes.length % urls.length]!));
      await new Promise((r) => setTimeout(r, tick));
    }
    const burst = await Promise.all(burstOutcomes);
    const rssAfterMb = apis.map((a) => rssMbOf(a.pid));
    const burstStatuses: Record<string, number> = {};
    for (const o of burst) {
      const key = `${o.status}${o.code ? ` ${o.code}` : ""}`;
      burstStatuses[key] = (burstStatuses[key] ?? 0) + 1;
      if (o.status !== 200 && o.status !== 429 && o.status !== 503) violations.push(`burst request answered ${key}`);
      if (o.code?.includes("no Retry-After")) violations.push(`burst refusal ${key}: ${o.message ?? "no message"}`);
    }
    rssAfterMb.forEach((mb, i) => {
      if (mb > rssBeforeMb[i]! + 100) violations.push(`instance ${i} grew ${mb - rssBeforeMb[i]!} MB during the burst`);
    });
    log(`[soak] burst: ${burst.length} requests at ${rate}/s (4× ${sustained.toFixed(0)}/s): ${JSON.stringify(burstStatuses)}; RSS ${rssBeforeMb.join("/")} → ${rssAfterMb.join("/")} MB`);
    paused = false;

    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
    stop = true;
    await Promise.all(workers);
    await events;
    clearInterval(sampler);
    clearInterval(floorSampler);

    // Checks.
    for (const o of outcomes) {
      if (o.code === "client_timeout") violations.push(`${o.kind} went unanswered for 30 s`);
      if (o.code?.includes("no Retry-After")) violations.push(`${o.kind} ${o.status} ${o.code}: ${o.message ?? "no message"}`);
      if (o.status === 500) violations.push(`${o.kind} answered 500`);
      if (o.status === 200 && GATED.has(o.kind)) {
        // 100 ms of grace: the acknowledgement left the server a moment before we saw it.
        const w = frozenWindows.find((f) => o.start >= f.from + 100 && o.end <= f.to);
        if (w) violations.push(`${o.kind} was served while the fleet was frozen`);
      }
    }
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const found = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "Message" WHERE id = ANY($1::text[])`, [acknowledged]);
      const missing = acknowledged.length - Number(found.rows[0]!.n);
      if (missing > 0) violations.push(`${missing} acknowledged chat replies are not in the database`);
    } finally {
      await client.end();
    }
    // Flat memory, judged after warm-up (the first 30%, at least 20 s: JIT code, pools and
    // caches fill) and outside the burst. The RSS floor needs several GC cycles per third, so
    // only runs of 5 minutes or more judge it.
    const judged = (atSec: number) => atSec >= Math.max(20, seconds * 0.3) && (atSec < seconds * 0.78 || atSec > seconds * 0.9);
    for (let i = 0; i < apis.length; i++) {
      const live: MemoryPoint[] = floors.filter((f) => judged(f.atSec)).map((f) => ({ atSec: f.atSec, mb: f.liveMb[i]! }));
      const rss: MemoryPoint[] = seconds >= 300 ? samples.filter((s) => judged(s.atSec)).map((s) => ({ atSec: s.atSec, mb: s.rssMb[i]! })) : [];
      violations.push(...judgeMemoryTrend(`instance ${i}`, { live, rss }));
    }
    return {
      seconds,
      samples,
      floors,
      outcomes: counts,
      freezes: frozenWindows.length,
      burst: { rate, sent: burst.length, statuses: burstStatuses, rssBeforeMb, rssAfterMb },
      acknowledgedChats: acknowledged.length,
      violations: [...new Set(violations)],
    };
  } finally {
    await Promise.all(apis.map((a) => a.stop()));
    await upstream.close();
    await db.drop();
    await redis.stop();
    await rm(probeDir, { recursive: true, force: true });
  }
}
