import type { TRole, TUser } from "@switchboard/schema";
import { formatDate, formatDateTime } from "../../lib/format.ts";
import { timeAgo } from "../../lib/relative-time.ts";
import { messageOf } from "../../lib/errors.ts";
import { ROLE_LABELS, ROLES } from "../../lib/roles.ts";
import { BudgetCell } from "./budget-cell.tsx";
import { useUpdateUser } from "./users-data.ts";

export interface RowEvents {
  onNotice(kind: "success" | "error", text: string): void;
  onResetPassword(user: TUser): void;
  onDelete(user: TUser): void;
  onEditBudget(user: TUser): void;
}

/** One user: role select and enable/disable act immediately; the server has the last word. */
export function UserRow({ user, isSelf, spentUsd, events }: { user: TUser; isSelf: boolean; spentUsd: number | undefined; events: RowEvents }) {
  const update = useUpdateUser();
  const pendingRole = update.isPending ? update.variables.role : undefined;
  const pendingDisabled = update.isPending ? update.variables.disabled : undefined;
  const role = pendingRole ?? user.role;
  const disabled = pendingDisabled ?? user.disabled;
  const selfNote = isSelf ? "You cannot change your own role or disable yourself" : undefined;

  const changeRole = (next: TRole) => {
    update.mutate(
      { id: user.id, role: next },
      {
        onSuccess: (u) => events.onNotice("success", `${u.email} is now ${ROLE_LABELS[u.role]}. Their sessions were signed out.`),
        onError: (error) => events.onNotice("error", `Could not change the role of ${user.email}: ${messageOf(error)}`),
      },
    );
  };

  const toggleDisabled = () => {
    update.mutate(
      { id: user.id, disabled: !user.disabled },
      {
        onSuccess: (u) => events.onNotice("success", u.disabled ? `${u.email} is disabled and was signed out.` : `${u.email} is enabled again.`),
        onError: (error) => events.onNotice("error", `Could not update ${user.email}: ${messageOf(error)}`),
      },
    );
  };

  return (
    <tr data-testid={`user-row-${user.email}`} aria-busy={update.isPending || undefined}>
      <td className="cell-user">
        <span className="cell-email">{user.email}</span>
        {isSelf ? <span className="badge badge-muted badge-inline">You</span> : null}
        <span className="cell-sub muted">
          Added <time dateTime={user.createdAt} title={formatDateTime(user.createdAt)}>{formatDate(user.createdAt)}</time>
        </span>
      </td>
      <td>
        <select
          className="select-compact"
          aria-label={`Role for ${user.email}`}
          value={role}
          disabled={isSelf || update.isPending}
          title={selfNote}
          onChange={(e) => changeRole(e.target.value as TRole)}
        >
          {ROLES.map((r) => <option key={r} value={r}>{ROLE_LABELS[r]}</option>)}
        </select>
      </td>
      <td>
        <span className={`badge ${disabled ? "badge-bad" : "badge-ok"}`}>{disabled ? "Disabled" : "Active"}</span>
      </td>
      <td>
        <BudgetCell user={user} spentUsd={spentUsd} onEdit={() => events.onEditBudget(user)} />
      </td>
      <td className="cell-date">
        {user.lastLoginAt ? (
          <time dateTime={user.lastLoginAt} title={formatDateTime(user.lastLoginAt)}>{timeAgo(user.lastLoginAt)}</time>
        ) : (
          <span className="muted">Never</span>
        )}
      </td>
      <td className="cell-actions">
        <div className="row-actions">
          <button
            type="button"
            className={`btn btn-small btn-toggle ${user.disabled ? "" : "btn-danger-ghost"}`}
            aria-label={`${user.disabled ? "Enable" : "Disable"} ${user.email}`}
            disabled={(isSelf && !user.disabled) || update.isPending}
            title={selfNote}
            onClick={toggleDisabled}
          >
            {user.disabled ? "Enable" : "Disable"}
          </button>
          <button type="button" className="btn btn-small" aria-label={`Reset password for ${user.email}`} onClick={() => events.onResetPassword(user)}>
            Reset password
          </button>
          <button
            type="button"
            className="btn btn-small btn-danger-ghost"
            aria-label={`Delete ${user.email}`}
            disabled={isSelf}
            title={isSelf ? "You cannot delete yourself" : undefined}
            onClick={() => events.onDelete(user)}
          >
            Delete
          </button>
        </div>
      </td>
    </tr>
  );
}
