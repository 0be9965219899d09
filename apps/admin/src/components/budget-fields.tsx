import { BUDGET_PERIODS, type TBudgetPeriod } from "@switchboard/schema";
import { Field } from "./field.tsx";

/** A spending cap as typed: the amount is text until sent, so "" can mean "no budget". */
export interface BudgetDraft {
  amount: string;
  period: TBudgetPeriod;
}

export const BUDGET_PERIOD_LABELS: Record<TBudgetPeriod, string> = { day: "day", month: "month", total: "lifetime" };

/** A budget's period after its amount ("$25.00 per month"). */
export const BUDGET_PER_LABELS: Record<TBudgetPeriod, string> = { day: "per day", month: "per month", total: "in total" };

/** The window a period's spend covers, as a phrase ("$3.10 this month"). */
export const BUDGET_WINDOW_LABELS: Record<TBudgetPeriod, string> = { day: "today", month: "this month", total: "all time" };

export const NOT_AN_AMOUNT = "Enter an amount in US dollars, like 25 or 12.50";

export function budgetDraftOf(budget: { budgetUsd: number | null; budgetPeriod: TBudgetPeriod }): BudgetDraft {
  return { amount: budget.budgetUsd === null ? "" : String(budget.budgetUsd), period: budget.budgetPeriod };
}

/**
 * The amount to send: null for an empty field (no budget), undefined when the text is not
 * a number at all. Range checks (negative, too large) are the server's, so its message shows.
 */
export function parseBudgetAmount(text: string): number | null | undefined {
  const cleaned = text.trim().replace(/^\$\s*/, "");
  if (cleaned === "") return null;
  const value = Number(cleaned);
  return Number.isFinite(value) ? value : undefined;
}

/** Amount and period of a budget, with a message under each (the server's, or "not a number"). */
export function BudgetFields({ value, onChange, errors = {}, amountHint, amountPlaceholder = "none" }: {
  value: BudgetDraft;
  onChange: (next: BudgetDraft) => void;
  errors?: { budgetUsd?: string | undefined; budgetPeriod?: string | undefined };
  amountHint?: string;
  /** What the empty amount field says: "none" where empty means no budget. */
  amountPlaceholder?: string;
}) {
  return (
    <>
      <Field label="Budget (USD)" error={errors.budgetUsd} hint={amountHint}>
        {(control) => (
          <input
            {...control}
            type="text"
            inputMode="decimal"
            autoComplete="off"
            placeholder={amountPlaceholder}
            value={value.amount}
            onChange={(e) => onChange({ ...value, amount: e.target.value })}
          />
        )}
      </Field>
      <Field label="Per" error={errors.budgetPeriod}>
        {(control) => (
          <select {...control} value={value.period} onChange={(e) => onChange({ ...value, period: e.target.value as TBudgetPeriod })}>
            {BUDGET_PERIODS.map((p) => <option key={p} value={p}>{BUDGET_PERIOD_LABELS[p]}</option>)}
          </select>
        )}
      </Field>
    </>
  );
}
