import type { TEmergencyChangeResult } from "@switchboard/schema";
import { useState } from "react";
import { PageHeader } from "../components/page-header.tsx";
import { useEmergencyStatus } from "../lib/emergency-status.ts";
import { roleAtLeast } from "../lib/roles.ts";
import { useCurrentUser } from "../lib/session.tsx";
import { propagationText, useFreeze, useUnfreeze } from "./emergency/emergency-data.ts";
import { FreezeForm } from "./emergency/freeze-form.tsx";
import { HistoryTable } from "./emergency/history-table.tsx";
import { StatusCard } from "./emergency/status-card.tsx";
import { UnfreezeForm } from "./emergency/unfreeze-form.tsx";

/**
 * Everyone sees the live status; ADMINs also the audit trail; only SuperAdmins get the
 * controls. A global freeze refuses emergency.freeze (not on the allowlist), so while one
 * is in force only Unfreeze is offered; a narrower freeze can be widened.
 */
export function EmergencyPage() {
  const user = useCurrentUser();
  const { status, connected } = useEmergencyStatus();
  const [notice, setNotice] = useState<string | null>(null);
  const isSuperAdmin = roleAtLeast(user.role, "SUPERADMIN");
  const onDone = (action: string) => (result: TEmergencyChangeResult) => setNotice(`${action}. ${propagationText(result)}`);
  const freeze = useFreeze(onDone("Frozen"));
  const unfreeze = useUnfreeze((result) => onDone(result.changed ? "Unfrozen" : "Was not frozen")(result));

  return (
    <>
      <PageHeader
        title="Emergency stop"
        description="Freeze AI features across every Switchboard instance at once: when a model misbehaves, costs run away or an incident needs everything off."
      />
      <div className="notice-slot" role="status" aria-live="polite" data-testid="emergency-notice">
        {notice ? (
          <div className="alert alert-success">
            <span>{notice}</span>
            <button type="button" className="alert-close" aria-label="Dismiss message" onClick={() => setNotice(null)}>×</button>
          </div>
        ) : null}
      </div>
      <StatusCard status={status} connected={connected} />
      {isSuperAdmin && status ? (
        <>
          {status.active ? <UnfreezeForm unfreeze={unfreeze} /> : null}
          {!status.active || status.scope !== "global" ? <FreezeForm freeze={freeze} /> : null}
        </>
      ) : !isSuperAdmin ? (
        <p className="muted">Only SuperAdmins can freeze or unfreeze.</p>
      ) : null}
      {roleAtLeast(user.role, "ADMIN") ? <HistoryTable status={status} /> : null}
    </>
  );
}
