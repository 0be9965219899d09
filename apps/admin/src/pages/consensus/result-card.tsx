import { useId } from "react";
import type { RunView } from "./consensus-data.ts";
import { STRATEGY_INFO } from "./strategy-info.ts";

/** 0..1 as a bar with its percentage: red below a half, amber below four fifths, green above. */
export function AgreementMeter({ value, explanation }: { value: number; explanation: string }) {
  const percent = Math.round(value * 100);
  const level = value >= 0.8 ? "high" : value >= 0.5 ? "medium" : "low";
  return (
    <div className="agreement">
      <div className="agreement-label">
        <span>Agreement</span>
        <strong data-testid="agreement-value">{percent}%</strong>
      </div>
      <div className="agreement-track" role="meter" aria-label="Agreement" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-valuetext={`${percent}%: ${explanation}`} data-level={level}>
        <div className="agreement-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="field-hint">{explanation}</p>
    </div>
  );
}

/** The agreed answer, who backs it and how much the models agree; or why there is none. */
export function ResultCard({ view }: { view: RunView }) {
  const heading = useId();
  const run = view.run;
  const winner = run?.status === "complete" ? run.winner : null;
  const answered = run ? run.answers.filter((a) => a.status === "success").length : 0;
  return (
    <section className="card consensus-result" aria-labelledby={heading} aria-live="polite" aria-busy={view.phase === "running" || view.phase === "synthesizing" || undefined}>
      <div className="consensus-result-head">
        <h2 id={heading}>Result</h2>
        <span className="badge badge-muted">{STRATEGY_INFO[view.strategy].label}</span>
      </div>
      <p className="muted consensus-prompt">{view.prompt}</p>
      {winner && run && run.agreement !== null ? (
        <div className="consensus-winner-grid">
          <div>
            <p className="consensus-winner" data-testid="consensus-winner">{winner.content}</p>
            <p className="field-hint">
              Backed by {winner.providers.join(", ")}
              {run.decidedBy === "synthesize" && run.aggregator ? ` · merged by ${run.aggregator.provider}` : ""}
              {` · ${answered} of ${run.answers.length} answered`}
              {run.latencyMs !== null ? ` · ${run.latencyMs} ms` : ""}
            </p>
            {run.fallbackReason ? <p className="alert alert-info">Synthesis fell back to medoid: {run.fallbackReason}</p> : null}
          </div>
          <AgreementMeter value={run.agreement} explanation={STRATEGY_INFO[run.decidedBy ?? view.strategy].agreement} />
        </div>
      ) : view.error ? (
        <p className="alert alert-error" role="alert">{view.error.message}</p>
      ) : (
        <p className="muted">
          <span className="spinner" aria-hidden="true" />
          {view.phase === "synthesizing" && view.aggregator ? `${view.aggregator.provider} is merging the answers…` : "Waiting for the models…"}
        </p>
      )}
    </section>
  );
}
