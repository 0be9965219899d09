import type { TEmergencyStatus } from "@switchboard/schema";
import { frozenHeadline, scopeLabel } from "../../lib/emergency-status.ts";
import { formatDateTime } from "../../lib/format.ts";
import { timeAgo } from "../../lib/relative-time.ts";

/** The live state, straight from `emergency.watch`. */
export function StatusCard({ status, connected }: { status: TEmergencyStatus | null; connected: boolean }) {
  return (
    <section className="card" aria-labelledby="emergency-status-heading" data-testid="emergency-status">
      <h2 id="emergency-status-heading" className="visually-hidden">Current state</h2>
      {!status ? (
        <p className="muted">Connecting…</p>
      ) : (
        <>
          <div className={`emergency-state ${status.active ? "emergency-state-frozen" : "emergency-state-ok"}`}>
            <span className={`dot ${status.active ? "dot-bad" : "dot-ok"}`} aria-hidden="true" />
            <span className="emergency-state-label" data-testid="emergency-state-label">
              {status.active ? `Frozen — ${frozenHeadline(status)}` : "Serving normally"}
            </span>
            <span className="emergency-live" title="Updates arrive over a live stream (emergency.watch)">
              {connected ? "● Live" : "○ Reconnecting…"}
            </span>
          </div>
          {status.active ? (
            <dl className="facts">
              <div><dt>Scope</dt><dd>{scopeLabel(status.scope)}<code className="emergency-scope-id">{status.scope}</code></dd></div>
              <div><dt>Reason</dt><dd className="cell-reason">{status.reason}</dd></div>
              <div><dt>Since</dt><dd>{formatDateTime(status.activatedAt)} ({timeAgo(status.activatedAt)})</dd></div>
              <div><dt>By</dt><dd>{status.activatedBy ?? "unknown"}</dd></div>
              <div><dt>Expires</dt><dd>{status.expiresAt ? formatDateTime(status.expiresAt) : "Never — until someone unfreezes"}</dd></div>
            </dl>
          ) : (
            <p className="muted">Every feature and provider is available. State version {status.version}.</p>
          )}
        </>
      )}
    </section>
  );
}
