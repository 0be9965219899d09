import type { TChatAttempt } from "@switchboard/schema";

const LABELS: Record<TChatAttempt["outcome"], string> = {
  success: "answered",
  timeout: "timed out",
  rate_limited: "rate limited",
  http_error: "error",
  connection_error: "unreachable",
  malformed: "bad response",
  interrupted: "cut off",
  idle_timeout: "stalled",
  aborted: "aborted",
  unsupported: "unsupported",
  rejected: "refused by upstream",
  overloaded: "gateway busy",
  skipped_circuit_open: "skipped (circuit open)",
  skipped_rate_limited: "skipped (rate limited)",
  skipped_frozen: "skipped (frozen)",
};

/** The fallback trail: every provider tried, in order, and what happened. */
export function AttemptTrail({ attempts }: { attempts: TChatAttempt[] }) {
  if (attempts.length === 0) return null;
  return (
    <ol className="attempt-trail" aria-label="Providers tried">
      {attempts.map((a, i) => {
        const tone = a.outcome === "success" ? "badge-ok" : a.outcome.startsWith("skipped") ? "badge-muted" : "badge-bad";
        const detail = [a.status ? String(a.status) : null, a.outcome.startsWith("skipped") ? null : `${a.latencyMs} ms`].filter(Boolean).join(", ");
        return (
          <li key={i} className={`badge ${tone}`} title={a.error ?? undefined}>
            {a.provider} · {LABELS[a.outcome]}{detail ? ` (${detail})` : ""}
          </li>
        );
      })}
    </ol>
  );
}
