import { useEffect, useState } from "react";
import { PageHeader } from "../components/page-header.tsx";
import { messageOf } from "../lib/errors.ts";
import { AnswerCard } from "./consensus/answer-card.tsx";
import { useConsensusModels, useConsensusRun, useConsensusStream, viewOfRun, type RunView } from "./consensus/consensus-data.ts";
import { HistoryTable } from "./consensus/history-table.tsx";
import { ResultCard } from "./consensus/result-card.tsx";
import { RunForm } from "./consensus/run-form.tsx";
import "./consensus/consensus.css";

/**
 * Ask several models the same question: answers appear side by side as each arrives
 * (consensus.stream), then the agreed answer and the agreement meter. History reopens a
 * stored run in the same view.
 */
export function ConsensusPage() {
  const models = useConsensusModels();
  const { view, refusal, start, stop, show } = useConsensusStream();
  const [openId, setOpenId] = useState<string | null>(null);
  const stored = useConsensusRun(openId);
  const busy = view?.phase === "running" || view?.phase === "synthesizing";

  useEffect(() => {
    if (stored.data && stored.data.id === openId) show(viewOfRun(stored.data));
  }, [stored.data, openId, show]);

  const open = (id: string) => {
    if (busy) stop();
    setOpenId(id);
    if (stored.data?.id === id) show(viewOfRun(stored.data));
  };

  return (
    <>
      <PageHeader
        title="Consensus"
        description="Ask several models the same question and see what they agree on: majority vote for short answers, the medoid or a synthesis for free text."
      />
      {models.isError ? <p className="alert alert-error" role="alert">{messageOf(models.error)}</p> : null}
      <RunForm
        models={models.data}
        busy={busy}
        refusal={refusal}
        onRun={(input) => {
          setOpenId(null);
          start(input);
        }}
        onStop={stop}
      />
      {view ? <RunPanel view={view} /> : null}
      <HistoryTable selectedId={view?.id ?? null} onOpen={open} />
    </>
  );
}

function RunPanel({ view }: { view: RunView }) {
  const pending = view.phase === "running";
  const backers = new Set(view.run?.winner?.providers ?? []);
  return (
    <>
      <ResultCard view={view} />
      <section className="consensus-answers" aria-label="Answers">
        {view.providers.map(({ provider, model }) => (
          <AnswerCard key={provider} provider={provider} model={model} answer={view.answers[provider]} backsWinner={backers.has(provider)} pending={pending} />
        ))}
      </section>
      {view.excluded.length > 0 ? <p className="muted">Left out, frozen by an emergency stop: {view.excluded.join(", ")}.</p> : null}
    </>
  );
}
