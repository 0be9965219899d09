/**
 * Consensus runs in the database (ConsensusRun, ConsensusAnswer). Ownership is part of every
 * read: a user reaches only their own runs, another user's id answers exactly like a missing
 * one (404), ADMIN and above read all.
 *
 * Row conventions, so a run reads back exactly as it was answered without schema changes:
 * - answer ids are `<runId>:<nn>` in the order the providers were asked (reads sort by id);
 * - a provider left out because it was frozen is a row with status "excluded_frozen";
 * - the synthesize aggregator call is a row whose provider is `aggregator:<id>`;
 * - `decidedBy` and `fallbackReason` are derived from the strategy and the aggregator row.
 */
import {
  roleAtLeast,
  storableDeep,
  ZAttemptOutcome,
  ZProviderId,
  type TConsensusAnswer,
  type TConsensusHistoryInput,
  type TConsensusRun,
  type TConsensusRunSummary,
  type TProviderId,
  type TRole,
} from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.ts";
import { cursorPage } from "../cursor-page.ts";
import { AppError } from "../errors.ts";
import { fallbackReasonOf } from "./synthesize.ts";

export interface Viewer {
  id: string;
  role: TRole;
}

const EXCLUDED_FROZEN = "excluded_frozen";
const AGGREGATOR_PREFIX = "aggregator:";
const notFound = () => new AppError("NOT_FOUND", "Consensus run not found");

type AnswerRow = Prisma.ConsensusAnswerGetPayload<object>;
type RunRow = Prisma.ConsensusRunGetPayload<{ include: { answers: true } }>;

type Row = Prisma.ConsensusAnswerCreateManyRunInput;
const rowId = (runId: string, index: number) => `${runId}:${String(index).padStart(2, "0")}`;

function answerRow(id: string, a: TConsensusAnswer, provider: string = a.provider): Row {
  return {
    id,
    provider,
    model: a.model,
    content: a.content,
    status: a.status,
    error: a.error ?? null,
    latencyMs: a.latencyMs,
    promptTokens: a.usage?.promptTokens ?? null,
    completionTokens: a.usage?.completionTokens ?? null,
  };
}

function toAnswer(row: AnswerRow, provider: TProviderId): TConsensusAnswer {
  const prompt = row.promptTokens;
  const completion = row.completionTokens;
  return {
    provider,
    model: row.model ?? "",
    content: row.content,
    latencyMs: row.latencyMs ?? 0,
    status: ZAttemptOutcome.catch("connection_error").parse(row.status),
    usage: prompt !== null && completion !== null ? { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion } : null,
    ...(row.error !== null ? { error: row.error } : {}),
  };
}

const providerOf = (value: string): TProviderId | null => ZProviderId.safeParse(value).data ?? null;

function toRun(row: RunRow): TConsensusRun {
  const rows = [...row.answers].sort((a, b) => a.id.localeCompare(b.id));
  const answers: TConsensusAnswer[] = [];
  const excluded: TConsensusRun["excluded"] = [];
  let aggregator: TConsensusAnswer | null = null;
  for (const r of rows) {
    const aggregatorId = r.provider.startsWith(AGGREGATOR_PREFIX) ? providerOf(r.provider.slice(AGGREGATOR_PREFIX.length)) : null;
    const provider = providerOf(r.provider);
    if (aggregatorId) aggregator = toAnswer(r, aggregatorId);
    else if (provider && r.status === EXCLUDED_FROZEN) excluded.push({ provider, reason: "frozen" });
    else if (provider) answers.push(toAnswer(r, provider));
  }
  const strategy = row.strategy as TConsensusRun["strategy"];
  const complete = row.status === "complete";
  const synthesized = strategy === "synthesize" && aggregator?.status === "success";
  return {
    id: row.id,
    userId: row.userId,
    prompt: row.prompt,
    strategy,
    decidedBy: !complete ? null : strategy === "synthesize" && !synthesized ? "medoid" : strategy,
    fallbackReason: complete && strategy === "synthesize" ? fallbackReasonOf(aggregator) : null,
    status: row.status as TConsensusRun["status"],
    quorum: row.quorum,
    answers,
    excluded,
    aggregator,
    winner: complete && row.winner !== null ? { content: row.winner, providers: row.winnerProviders.flatMap((p) => providerOf(p) ?? []) } : null,
    agreement: complete ? row.agreement : null,
    latencyMs: row.latencyMs,
    createdAt: row.createdAt.toISOString(),
  };
}

function toSummary(row: Prisma.ConsensusRunGetPayload<{ include: { answers: { select: { provider: true; status: true } } } }>): TConsensusRunSummary {
  return {
    id: row.id,
    userId: row.userId,
    prompt: row.prompt,
    strategy: row.strategy as TConsensusRunSummary["strategy"],
    status: row.status as TConsensusRunSummary["status"],
    agreement: row.agreement,
    winner: row.winner,
    winnerProviders: row.winnerProviders.flatMap((p) => providerOf(p) ?? []),
    providers: row.answers.filter((a) => a.status !== EXCLUDED_FROZEN).flatMap((a) => providerOf(a.provider) ?? []),
    latencyMs: row.latencyMs,
    createdAt: row.createdAt.toISOString(),
  };
}

export function createConsensusStore(prisma: PrismaClient) {
  const scope = (viewer: Viewer) => (roleAtLeast(viewer.role, "ADMIN") ? {} : { userId: viewer.id });

  async function save(shown: TConsensusRun): Promise<void> {
    // Model answers may contain NUL or unpaired surrogates, which PostgreSQL cannot store; the
    // answer the user was shown is kept, minus NUL, with U+FFFD for the half pairs.
    const run = storableDeep(shown);
    const rows = run.answers.map((a, i) => answerRow(rowId(run.id, i), a));
    run.excluded.forEach(({ provider }, i) => {
      rows.push({ id: rowId(run.id, run.answers.length + i), provider, status: EXCLUDED_FROZEN, error: "frozen by an emergency stop" });
    });
    // Sorts after every answer row (at most a handful of providers).
    if (run.aggregator) rows.push(answerRow(rowId(run.id, 99), run.aggregator, `${AGGREGATOR_PREFIX}${run.aggregator.provider}`));
    // One statement (run and answers) instead of Prisma's nested write, an interactive
    // transaction of four round trips: it sits between the last answer and the reply.
    // Foreign keys are checked at the end of the statement.
    await prisma.$executeRaw`
      WITH run AS (
        INSERT INTO "ConsensusRun" ("id", "userId", "prompt", "strategy", "quorum", "agreement", "winner",
                                    "winnerProviders", "status", "latencyMs", "createdAt")
        VALUES (${run.id}, ${run.userId}, ${run.prompt}, ${run.strategy}, ${run.quorum}::int, ${run.agreement}::float8,
                ${run.winner?.content ?? null}, ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(run.winner?.providers ?? [])}::jsonb)),
                ${run.status}, ${run.latencyMs}::int, ${run.createdAt}::timestamptz AT TIME ZONE 'UTC')
      )
      INSERT INTO "ConsensusAnswer" ("id", "runId", "provider", "model", "content", "status", "error", "latencyMs",
                                     "promptTokens", "completionTokens")
      SELECT a."id", ${run.id}, a."provider", a."model", a."content", a."status", a."error", a."latencyMs",
             a."promptTokens", a."completionTokens"
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS a("id" text, "provider" text, "model" text, "content" text,
           "status" text, "error" text, "latencyMs" int, "promptTokens" int, "completionTokens" int)`;
  }

  async function get(viewer: Viewer, id: string): Promise<TConsensusRun> {
    const row = await prisma.consensusRun.findFirst({ where: { id, ...scope(viewer) }, include: { answers: true } });
    if (!row) throw notFound();
    return toRun(row);
  }

  async function history(viewer: Viewer, input: TConsensusHistoryInput): Promise<{ items: TConsensusRunSummary[]; nextCursor: string | null }> {
    const limit = input?.limit ?? 20;
    const page = await cursorPage(prisma.consensusRun, { cursor: input?.cursor, limit, within: roleAtLeast(viewer.role, "ADMIN") ? undefined : { userId: viewer.id } }, (window) =>
      prisma.consensusRun.findMany({
        where: scope(viewer),
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        include: { answers: { select: { provider: true, status: true }, orderBy: { id: "asc" } } },
        ...window,
      }),
    );
    return { items: page.items.map(toSummary), nextCursor: page.nextCursor };
  }

  return { save, get, history };
}

export type ConsensusStore = ReturnType<typeof createConsensusStore>;
