import { CONSENSUS_LIMITS, CONSENSUS_STRATEGIES, defaultQuorum, type TConsensusModels, type TConsensusQueryInput, type TConsensusStrategy, type TProviderId } from "@switchboard/schema";
import { useEffect, useId, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { STRATEGY_INFO } from "./strategy-info.ts";

export interface RunFormProps {
  models: TConsensusModels | undefined;
  busy: boolean;
  refusal: { message: string; fields: Record<string, string> } | null;
  onRun: (input: TConsensusQueryInput) => void;
  onStop: () => void;
}

/** Prompt, models, strategy, quorum and deadline. The server validates; its messages show per field. */
export function RunForm({ models, busy, refusal, onRun, onStop }: RunFormProps) {
  const ids = { heading: useId(), models: useId() };
  const [prompt, setPrompt] = useState("");
  const [strategy, setStrategy] = useState<TConsensusStrategy>("majority");
  const [chosen, setChosen] = useState<TProviderId[] | null>(null);
  // Empty: the server's default, half the models asked (shown as the placeholder).
  const [quorum, setQuorum] = useState("");
  const [timeoutSec, setTimeoutSec] = useState("30");
  const [aggregator, setAggregator] = useState<"" | TProviderId>("");

  // Defaults arrive with consensus.models: the default providers and deadline.
  useEffect(() => {
    if (!models) return;
    setChosen((c) => c ?? models.defaults.providers.filter((id) => !models.models.find((m) => m.provider === id)?.frozen));
    setTimeoutSec(String(models.defaults.timeoutMs / 1000));
  }, [models]);

  const selected = chosen ?? [];
  const fields = refusal?.fields ?? {};
  const toggle = (id: TProviderId, on: boolean) =>
    setChosen((c) => {
      const next = new Set(c ?? []);
      if (on) next.add(id);
      else next.delete(id);
      // Keep the order consensus.models lists them in (the fallback order): it breaks ties.
      return (models?.models ?? []).map((m) => m.provider).filter((p) => next.has(p));
    });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    onRun({
      prompt,
      strategy,
      providers: selected,
      ...(quorum.trim() !== "" ? { quorum: Number(quorum) } : {}),
      ...(timeoutSec.trim() !== "" ? { timeoutMs: Math.round(Number(timeoutSec) * 1000) } : {}),
      ...(strategy === "synthesize" && aggregator ? { aggregator } : {}),
    });
  };

  const formError = refusal && Object.keys(fields).length === 0 ? refusal.message : null;

  return (
    <section className="card" aria-labelledby={ids.heading}>
      <h2 id={ids.heading}>Ask several models</h2>
      <form className="form consensus-form" aria-label="Run consensus" onSubmit={submit} noValidate>
        <Field label="Prompt" error={fields.prompt}>
          {(control) => (
            <textarea {...control} rows={3} value={prompt} maxLength={CONSENSUS_LIMITS.promptMaxChars} placeholder="A question every model answers on its own, e.g. What is the boiling point of water at sea level in °C?" onChange={(e) => setPrompt(e.target.value)} />
          )}
        </Field>
        <fieldset className="field consensus-models" aria-describedby={fields.providers ? `${ids.models}-err` : `${ids.models}-hint`}>
          <legend>Models</legend>
          <div className="consensus-model-list">
            {(models?.models ?? []).map((m) => (
              <label key={m.provider} className="consensus-model" data-disabled={!m.active || m.frozen || undefined}>
                <input type="checkbox" checked={selected.includes(m.provider)} disabled={!m.active || m.frozen || busy} onChange={(e) => toggle(m.provider, e.target.checked)} />
                <span className="consensus-model-name">{m.provider}</span>
                <span className="muted">{m.model}</span>
                {!m.active ? <span className="badge badge-muted">not configured</span> : m.frozen ? <span className="badge badge-bad">frozen</span> : m.circuit !== "closed" ? <span className="badge badge-bad">circuit {m.circuit.replace("_", "-")}</span> : null}
              </label>
            ))}
          </div>
          {fields.providers ? <p id={`${ids.models}-err`} className="field-error">{fields.providers}</p> : <p id={`${ids.models}-hint`} className="field-hint">At least two. The offline template is off by default: its canned replies are not a model&apos;s opinion.</p>}
        </fieldset>
        <div className="consensus-form-row">
          <Field label="Strategy" hint={STRATEGY_INFO[strategy].hint}>
            {(control) => (
              <select {...control} value={strategy} onChange={(e) => setStrategy(e.target.value as TConsensusStrategy)}>
                {CONSENSUS_STRATEGIES.map((s) => <option key={s} value={s}>{STRATEGY_INFO[s].label}</option>)}
              </select>
            )}
          </Field>
          <Field label="Quorum" error={fields.quorum} hint="Answers needed for a result.">
            {(control) => (
              <input {...control} type="number" min={1} max={Math.max(1, selected.length)} value={quorum} placeholder={String(defaultQuorum(selected.length))} onChange={(e) => setQuorum(e.target.value)} />
            )}
          </Field>
          <Field label="Timeout (s)" error={fields.timeoutMs} hint="Slower models are reported timed out.">
            {(control) => <input {...control} type="number" min={0.1} step={0.1} value={timeoutSec} onChange={(e) => setTimeoutSec(e.target.value)} />}
          </Field>
          {strategy === "synthesize" ? (
            <Field label="Aggregator">
              {(control) => (
                <select {...control} value={aggregator} onChange={(e) => setAggregator(e.target.value as "" | TProviderId)}>
                  <option value="">{models?.defaults.aggregator ? `Default (${models.defaults.aggregator})` : "First model to answer"}</option>
                  {(models?.models ?? []).filter((m) => m.active && m.kind !== "template").map((m) => <option key={m.provider} value={m.provider}>{m.provider}</option>)}
                </select>
              )}
            </Field>
          ) : null}
        </div>
        <FormError message={formError} />
        <div className="consensus-form-actions">
          {busy ? (
            <button type="button" className="btn" onClick={onStop}>Stop</button>
          ) : (
            <button type="submit" className="btn btn-primary" disabled={prompt.trim() === "" || !models}>Run consensus</button>
          )}
        </div>
      </form>
    </section>
  );
}
