import type { TUser } from "@switchboard/schema";
import { BUDGET_PER_LABELS, BUDGET_WINDOW_LABELS } from "../../components/budget-fields.tsx";
import { usd } from "../usage-data.ts";

/**
 * A user's spend in the current budget period against their budget, and the button that
 * opens the budget dialog: two short lines, so the column stays narrow.
 */
export function BudgetCell({ user, spentUsd, onEdit }: { user: TUser; spentUsd: number | undefined; onEdit: () => void }) {
  const spent = spentUsd === undefined ? "…" : usd(spentUsd);
  const over = user.budgetUsd !== null && spentUsd !== undefined && spentUsd >= user.budgetUsd;
  return (
    <div className="budget-cell" data-testid={`budget-${user.email}`}>
      <span className={over ? "budget-spend budget-over" : "budget-spend"}>
        {user.budgetUsd === null ? `${spent} ${BUDGET_WINDOW_LABELS[user.budgetPeriod]}` : `${spent} / ${usd(user.budgetUsd)}`}
      </span>
      <span className="cell-sub muted">
        {user.budgetUsd === null ? "No budget" : BUDGET_PER_LABELS[user.budgetPeriod]}
        {" · "}
        <button type="button" className="btn-link" aria-label={`Edit budget for ${user.email}`} onClick={onEdit}>
          Edit
        </button>
      </span>
    </div>
  );
}
