import { useCurrentUser } from "../../lib/session.tsx";
import { roleAtLeast } from "../../lib/roles.ts";
import { messageOf } from "../../lib/errors.ts";
import { usePurgeCache } from "./cache-data.ts";

/**
 * Forgets answers kept by the response cache (requests sent with x-switchboard-cache-ttl),
 * on every instance: your own, or an ADMIN's everyone's — after a prompt or a provider was
 * fixed and the kept answers are wrong. Each purge is recorded (PurgeHistoryCard).
 */
export function PurgeCacheActions() {
  const user = useCurrentUser();
  const purge = usePurgeCache();
  const run = (everyone: boolean) => {
    if (window.confirm(everyone ? "Forget every user's cached answers on every instance?" : "Forget your cached answers on every instance?")) purge.mutate(everyone);
  };
  return (
    <div className="purge-cache">
      <button type="button" className="btn btn-small" disabled={purge.isPending} onClick={() => run(false)}>Purge my cached answers</button>
      {roleAtLeast(user.role, "ADMIN") ? (
        <button type="button" className="btn btn-small btn-danger-ghost" disabled={purge.isPending} onClick={() => run(true)}>Purge everyone&apos;s</button>
      ) : null}
      <span role="status" className={purge.isError ? "field-error" : "muted"}>
        {purge.isError ? messageOf(purge.error) : purge.data ? `Purged ${purge.data.everyone ? "everyone's" : "your"} cached answers.` : ""}
      </span>
    </div>
  );
}
