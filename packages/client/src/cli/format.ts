/** Human-readable output for the emergency commands. */
export interface StatusView {
  active: boolean;
  scope: string;
  reason: string | null;
  activatedAt: string | null;
  activatedBy: string | null;
  expiresAt: string | null;
  version: number;
}

export interface ChangeView extends StatusView {
  changed: boolean;
  acknowledgedBy: number;
  liveInstances: number;
  pendingInstances: string[];
  propagation: "confirmed" | "partial" | "local";
}

function ago(iso: string, now: number): string {
  const sec = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (sec < 90) return `${sec}s ago`;
  if (sec < 90 * 60) return `${Math.round(sec / 60)}m ago`;
  return `${Math.round(sec / 3600)}h ago`;
}

export function formatStatus(s: StatusView, now = Date.now()): string {
  if (!s.active) return `NOT FROZEN — Switchboard is serving normally (state version ${s.version})`;
  const lines = [
    `FROZEN (${s.scope})`,
    `  reason:   ${s.reason ?? "-"}`,
    `  since:    ${s.activatedAt ? `${s.activatedAt} (${ago(s.activatedAt, now)})` : "-"}`,
    `  by:       ${s.activatedBy ?? "-"}`,
    `  expires:  ${s.expiresAt ?? "never (until unfrozen)"}`,
  ];
  return lines.join("\n");
}

export function formatChange(c: ChangeView, action: "freeze" | "unfreeze"): string {
  const head =
    action === "freeze"
      ? `Frozen (${c.scope}): ${c.reason ?? ""}${c.expiresAt ? ` — auto-unfreeze at ${c.expiresAt}` : ""}`
      : c.changed
        ? "Unfrozen: Switchboard is serving again."
        : "Was not frozen; nothing changed.";
  const proof =
    c.propagation === "local"
      ? "Coordination (Redis) is unreachable: applied on the receiving instance and in the database; other instances get it when Redis is back."
      : `Acknowledged by ${c.acknowledgedBy} of ${c.liveInstances} live instance(s)` +
        (c.pendingInstances.length > 0 ? `; not yet: ${c.pendingInstances.join(", ")}` : ".");
  return `${head}\n${proof}`;
}
