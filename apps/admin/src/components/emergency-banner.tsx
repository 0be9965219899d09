import { useEffect, useState } from "react";
import { frozenHeadline, useEmergencyStatus } from "../lib/emergency-status.ts";
import { formatDateTime } from "../lib/format.ts";
import { timeAgo } from "../lib/relative-time.ts";
import { Link } from "../lib/router.tsx";
import "../emergency.css";

/** Re-renders every `ms` so "5 min ago" stays true while the banner is up. */
function useTicker(active: boolean, ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
  return now;
}

/** Shown on every signed-in page while a freeze is in force: what, why, since when, by whom. */
export function EmergencyBanner({ currentPath }: { currentPath: string }) {
  const { status } = useEmergencyStatus();
  const now = useTicker(status?.active === true, 15_000);
  if (!status?.active) return null;
  return (
    <div className="emergency-banner" role="alert" data-testid="emergency-banner">
      <span className="emergency-banner-icon" aria-hidden="true">■</span>
      <div className="emergency-banner-text">
        <strong>Emergency stop: {frozenHeadline(status)}.</strong>{" "}
        <span data-testid="emergency-banner-reason">{status.reason}</span>
        <div className="emergency-banner-meta">
          Since {formatDateTime(status.activatedAt)} ({timeAgo(status.activatedAt, now)}) by {status.activatedBy ?? "unknown"}
          {status.expiresAt ? ` · lifts automatically at ${formatDateTime(status.expiresAt)}` : ""}
        </div>
      </div>
      {currentPath !== "/emergency" ? (
        <Link to="/emergency" className="emergency-banner-link">Details</Link>
      ) : null}
    </div>
  );
}
