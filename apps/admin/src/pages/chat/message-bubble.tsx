import type { TChatAttempt } from "@switchboard/schema";
import { AttemptTrail } from "./attempt-trail.tsx";

export interface BubbleProps {
  role: "user" | "assistant" | "system";
  content: string;
  /** Assistant replies only. */
  meta?: {
    provider: string | null;
    model: string | null;
    status: "complete" | "incomplete" | "failed" | "streaming" | "waiting";
    promptTokens?: number | null;
    completionTokens?: number | null;
    latencyMs?: number | null;
    attempts?: TChatAttempt[] | null;
    error?: string | null;
  };
}

const STATUS_BADGES: Partial<Record<NonNullable<BubbleProps["meta"]>["status"], [string, string]>> = {
  incomplete: ["badge-bad", "incomplete"],
  failed: ["badge-bad", "failed"],
};

export function MessageBubble({ role, content, meta }: BubbleProps) {
  const live = meta?.status === "streaming" || meta?.status === "waiting";
  const badge = meta ? STATUS_BADGES[meta.status] : undefined;
  return (
    <article className={`bubble bubble-${role}`} aria-busy={live || undefined} data-testid={role === "assistant" ? "assistant-message" : "user-message"}>
      <div className="bubble-head">
        <span className="bubble-role">{role === "user" ? "You" : role === "assistant" ? "Assistant" : "System"}</span>
        {meta?.provider ? (
          <span className="bubble-provider" data-testid="answered-by">
            {meta.provider}
            {meta.model ? <span className="muted"> / {meta.model}</span> : null}
          </span>
        ) : null}
        {badge ? <span className={`badge ${badge[0]}`}>{badge[1]}</span> : null}
      </div>
      <div className="bubble-body" data-testid={role === "assistant" ? "assistant-content" : undefined}>
        {content || (meta?.status === "waiting" ? <span className="muted">Waiting for the first token…</span> : null)}
        {live && content ? <span className="cursor" aria-hidden="true" /> : null}
      </div>
      {meta?.error ? <p className="bubble-error" role="alert">{meta.error}</p> : null}
      {meta && !live ? (
        <div className="bubble-foot">
          {meta.completionTokens != null ? (
            <span className="muted">
              {meta.promptTokens ?? 0} + {meta.completionTokens} tokens{meta.latencyMs != null ? ` · ${meta.latencyMs} ms` : ""}
            </span>
          ) : null}
          <AttemptTrail attempts={meta.attempts ?? []} />
        </div>
      ) : null}
    </article>
  );
}
