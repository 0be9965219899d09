import { CHAT_LIMITS, type TChatProvider, type TProviderId } from "@switchboard/schema";
import { useId, useState, type FormEvent, type KeyboardEvent } from "react";

export interface ComposerProps {
  providers: TChatProvider[];
  busy: boolean;
  onSend: (message: string, provider: TProviderId | undefined) => void;
  onStop: () => void;
}

/** Message box with the provider picker: auto (the fallback chain) or one pinned provider. */
export function Composer({ providers, busy, onSend, onStop }: ComposerProps) {
  const [message, setMessage] = useState("");
  const [provider, setProvider] = useState<"auto" | TProviderId>("auto");
  const ids = { message: useId(), provider: useId() };
  const text = message.trim();

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!text || busy) return;
    onSend(text, provider === "auto" ? undefined : provider);
    setMessage("");
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey) submit(event);
  };

  return (
    <form className="card composer" aria-label="Send a message" onSubmit={submit}>
      <label htmlFor={ids.message} className="visually-hidden">Message</label>
      <textarea
        id={ids.message}
        rows={3}
        placeholder="Ask anything (Enter to send, Shift+Enter for a new line)"
        maxLength={CHAT_LIMITS.messageMaxChars}
        value={message}
        onChange={(e) => setMessage(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="composer-bar">
        <label htmlFor={ids.provider}>Provider</label>
        <select id={ids.provider} className="select-compact" value={provider} onChange={(e) => setProvider(e.target.value as "auto" | TProviderId)}>
          <option value="auto">Auto (fallback chain)</option>
          {providers.map((p) => (
            <option key={p.id} value={p.id} disabled={!p.active}>
              {p.id} — {p.model}
              {!p.active ? " (not configured)" : p.frozen ? " (frozen)" : p.circuit.state !== "closed" ? ` (circuit ${p.circuit.state.replace("_", "-")})` : ""}
            </option>
          ))}
        </select>
        <span className="composer-spacer" />
        {busy ? (
          <button type="button" className="btn" onClick={onStop}>Stop</button>
        ) : (
          <button type="submit" className="btn btn-primary" disabled={!text}>Send</button>
        )}
      </div>
    </form>
  );
}
