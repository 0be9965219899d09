import type {
  TConsensusAnswer,
  TConsensusQueryInput,
  TConsensusRun,
  TConsensusRunSummary,
  TConsensusStreamEvent,
  TProviderId,
} from "@switchboard/schema";
import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { errorData, messageOf } from "../../lib/errors.ts";
import { trpc } from "../../lib/trpc.ts";

const KEY = ["consensus"] as const;
const HISTORY_KEY = [...KEY, "history"] as const;

export function useConsensusModels() {
  return useQuery({ queryKey: [...KEY, "models"], queryFn: () => trpc.consensus.models.query() });
}

export function useConsensusHistory() {
  return useInfiniteQuery({
    queryKey: HISTORY_KEY,
    queryFn: ({ pageParam }) => trpc.consensus.history.query({ limit: 10, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: { items: TConsensusRunSummary[]; nextCursor: string | null }) => last.nextCursor ?? undefined,
  });
}

export function useConsensusRun(id: string | null) {
  return useQuery({ queryKey: [...KEY, "run", id], queryFn: () => trpc.consensus.get.query({ id: id! }), enabled: id !== null });
}

/**
 * What the page shows for one run, live or stored: the providers asked (in order), the
 * answers that arrived, and the outcome once there is one.
 */
export interface RunView {
  id: string | null;
  prompt: string;
  strategy: TConsensusQueryInput["strategy"];
  phase: "running" | "synthesizing" | "complete" | "failed" | "aborted";
  providers: Array<{ provider: TProviderId; model: string }>;
  excluded: TProviderId[];
  answers: Partial<Record<TProviderId, TConsensusAnswer>>;
  aggregator: { provider: TProviderId; model: string; answer: TConsensusAnswer | null } | null;
  run: TConsensusRun | null;
  error: { code: string; message: string } | null;
}

/** A stored run as the page shows it. */
export function viewOfRun(run: TConsensusRun): RunView {
  return {
    id: run.id,
    prompt: run.prompt,
    strategy: run.strategy,
    phase: run.status,
    providers: run.answers.map((a) => ({ provider: a.provider, model: a.model })),
    excluded: run.excluded.map((e) => e.provider),
    answers: Object.fromEntries(run.answers.map((a) => [a.provider, a])),
    aggregator: run.aggregator ? { provider: run.aggregator.provider, model: run.aggregator.model, answer: run.aggregator } : null,
    run,
    error: run.status === "complete" ? null : { code: run.status.toUpperCase(), message: failureOf(run) },
  };
}

/** The stored counterpart of the live error message. */
function failureOf(run: TConsensusRun): string {
  if (run.status === "aborted") return "The run was aborted before it finished (stopped, disconnected or frozen).";
  const failed = run.answers.filter((a) => a.status !== "success");
  const answered = run.answers.length - failed.length;
  return `Quorum not met: ${answered} of ${run.answers.length} providers answered, ${run.quorum} needed. Failed: ${failed.map((a) => `${a.provider} (${a.status})`).join(", ")}`;
}

function fold(view: RunView, event: TConsensusStreamEvent): RunView {
  switch (event.type) {
    case "consensus_start":
      return { ...view, id: event.id, providers: event.providers, excluded: event.excluded.map((e) => e.provider) };
    case "consensus_answer":
      return { ...view, answers: { ...view.answers, [event.answer.provider]: event.answer } };
    case "consensus_synthesizing":
      return { ...view, phase: "synthesizing", aggregator: { provider: event.provider, model: event.model, answer: null } };
    case "consensus_complete":
      return viewOfRun(event.result);
    case "error":
      return { ...view, phase: event.code === "QUORUM_NOT_MET" ? "failed" : "aborted", error: { code: event.code, message: event.message } };
  }
}

/**
 * Runs consensus.stream and folds its events into a RunView: answers appear as they arrive.
 * A request the server refuses before starting (bad input, rate limit, freeze) is `refusal`.
 */
export function useConsensusStream() {
  const queryClient = useQueryClient();
  const [view, setView] = useState<RunView | null>(null);
  const [refusal, setRefusal] = useState<{ message: string; fields: Record<string, string> } | null>(null);
  const subscription = useRef<{ unsubscribe(): void } | null>(null);

  useEffect(() => () => subscription.current?.unsubscribe(), []);

  const finish = useCallback(() => {
    subscription.current?.unsubscribe();
    subscription.current = null;
    void queryClient.invalidateQueries({ queryKey: HISTORY_KEY });
  }, [queryClient]);

  const start = useCallback(
    (input: TConsensusQueryInput) => {
      subscription.current?.unsubscribe();
      setRefusal(null);
      setView({ id: null, prompt: input.prompt, strategy: input.strategy, phase: "running", providers: [], excluded: [], answers: {}, aggregator: null, run: null, error: null });
      let started = false;
      subscription.current = trpc.consensus.stream.subscribe(input, {
        onData(event) {
          started = true;
          setView((v) => v && fold(v, event));
          if (event.type === "consensus_complete" || event.type === "error") finish();
        },
        onError(error) {
          finish();
          if (!started) {
            const fields = Object.fromEntries(Object.entries(errorData(error).zodError?.fieldErrors ?? {}).map(([k, v]) => [k, v?.[0] ?? ""]));
            setRefusal({ message: messageOf(error), fields });
            setView(null);
          } else setView((v) => v && { ...v, phase: "aborted", error: { code: "INTERNAL", message: messageOf(error) } });
        },
      });
    },
    [finish],
  );

  /** Stops reading: the server aborts the calls still running and stores the run as aborted. */
  const stop = useCallback(() => {
    finish();
    setView((v) => v && (v.phase === "running" || v.phase === "synthesizing") ? { ...v, phase: "aborted", error: { code: "ABORTED", message: "Stopped" } } : v);
  }, [finish]);

  return { view, refusal, start, stop, show: setView };
}
