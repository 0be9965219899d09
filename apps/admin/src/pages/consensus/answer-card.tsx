import type { TConsensusAnswer } from "@switchboard/schema";

const STATUS_TEXT: Partial<Record<TConsensusAnswer["status"], string>> = {
  timeout: "Timed out",
  rate_limited: "Rate limited",
  http_error: "HTTP error",
  connection_error: "Unreachable",
  malformed: "Malformed reply",
  aborted: "Aborted",
  overloaded: "Gateway busy",
  skipped_circuit_open: "Skipped: circuit open",
  skipped_rate_limited: "Skipped: rate limited",
  skipped_frozen: "Skipped: frozen",
};

/** One model's answer: waiting, its text, or why there is none. */
export function AnswerCard({ provider, model, answer, backsWinner, pending }: { provider: string; model: string; answer: TConsensusAnswer | undefined; backsWinner: boolean; pending: boolean }) {
  const label = `Answer from ${provider}`;
  return (
    <article className="card consensus-answer" aria-label={label} data-status={answer?.status ?? (pending ? "waiting" : "none")} data-winner={backsWinner || undefined}>
      <header className="consensus-answer-head">
        <div>
          <div className="consensus-answer-provider">{provider}</div>
          <div className="muted consensus-answer-model">{answer?.model || model}</div>
        </div>
        {!answer ? (
          pending ? <span className="badge badge-muted"><span className="spinner" aria-hidden="true" />Waiting…</span> : <span className="badge badge-muted">No answer</span>
        ) : answer.status === "success" ? (
          <span className={`badge ${backsWinner ? "badge-ok" : "badge-muted"}`}>{backsWinner ? "Backs the winner" : "Answered"}</span>
        ) : (
          <span className="badge badge-bad">{STATUS_TEXT[answer.status] ?? answer.status}</span>
        )}
      </header>
      {answer?.content != null ? (
        <p className="consensus-answer-text">{answer.content}</p>
      ) : answer?.error ? (
        <p className="consensus-answer-text consensus-answer-error">{answer.error}</p>
      ) : (
        <p className="consensus-answer-text muted">{pending ? "Thinking…" : "—"}</p>
      )}
      {answer ? (
        <footer className="muted consensus-answer-foot">
          {answer.latencyMs} ms{answer.usage ? ` · ${answer.usage.totalTokens} tokens` : ""}
        </footer>
      ) : null}
    </article>
  );
}
