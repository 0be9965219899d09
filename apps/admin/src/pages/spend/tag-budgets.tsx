import { ZRequestTag, type TTagBudget } from "@switchboard/schema";
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { BUDGET_PER_LABELS, BudgetFields, NOT_AN_AMOUNT, parseBudgetAmount, type BudgetDraft } from "../../components/budget-fields.tsx";
import { DataTable, type Column } from "../../components/data-table.tsx";
import { Field, FormError } from "../../components/field.tsx";
import { messageOf, submitErrorsOf } from "../../lib/errors.ts";
import { tagBudgetsList, usd, useRemoveTagBudget, useSetTagBudget } from "../usage-data.ts";

/** Sets a tag's budget, or changes one: the same tag again replaces its amount and period. */
function SetTagBudgetForm() {
  const set = useSetTagBudget();
  const [tag, setTag] = useState("");
  const [budget, setBudget] = useState<BudgetDraft>({ amount: "", period: "month" });
  const [keysOnly, setKeysOnly] = useState(false);
  const [errors, setErrors] = useState<{ tag?: string; budgetUsd?: string }>({});
  const { fields, formError } = submitErrorsOf(set);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const checked = ZRequestTag.safeParse(tag);
    const budgetUsd = parseBudgetAmount(budget.amount);
    const found = {
      ...(checked.success ? {} : { tag: checked.error.issues[0]?.message }),
      ...(budgetUsd === undefined || budgetUsd === null ? { budgetUsd: budgetUsd === null ? "Enter the budget in US dollars" : NOT_AN_AMOUNT } : {}),
    };
    setErrors(found);
    if (!checked.success || budgetUsd === undefined || budgetUsd === null) return;
    set.mutate({ tag: checked.data, budgetUsd, budgetPeriod: budget.period, keysOnly }, { onSuccess: () => setTag("") });
  };
  return (
    <form className="form key-form tag-budget-form" onSubmit={submit} noValidate aria-label="Set a tag budget">
      <Field label="Tag to budget" error={errors.tag ?? fields.tag}>
        {(control) => <input {...control} value={tag} onChange={(e) => setTag(e.target.value)} placeholder="team:search" />}
      </Field>
      <BudgetFields value={budget} onChange={setBudget} amountPlaceholder="25.00" errors={{ budgetUsd: errors.budgetUsd ?? fields.budgetUsd, budgetPeriod: fields.budgetPeriod }} />
      <label className="check" title="A request naming the tag in x-switchboard-tags is refused unless its API key carries the tag: no one else can spend or exhaust the budget">
        <input type="checkbox" checked={keysOnly} onChange={(e) => setKeysOnly(e.target.checked)} /> Only keys carrying it
      </label>
      <div className="field field-action">
        <button type="submit" className="btn btn-primary" disabled={set.isPending || tag.trim() === ""}>{set.isPending ? "Setting…" : "Set budget"}</button>
      </div>
      <FormError message={formError} />
    </form>
  );
}

/**
 * Budgets on tags: what the requests carrying each tag spent in its period against its cap.
 * A SuperAdmin sets and removes them; an Admin reads them.
 */
export function TagBudgets({ canEdit }: { canEdit: boolean }) {
  const list = useQuery(tagBudgetsList());
  const remove = useRemoveTagBudget();
  const columns: Column<TTagBudget>[] = [
    { id: "tag", header: "Tag", cell: (b) => <code>{b.tag}</code> },
    {
      id: "spend",
      header: "Spent",
      align: "right",
      cell: (b) => <span className={b.spendUsd >= b.budgetUsd ? "budget-over" : undefined}>{`${usd(b.spendUsd)} / ${usd(b.budgetUsd)}`}</span>,
    },
    { id: "period", header: "Per", cell: (b) => BUDGET_PER_LABELS[b.budgetPeriod] },
    { id: "who", header: "Sent by", cell: (b) => (b.keysOnly ? "keys carrying it" : "anyone"), secondary: true },
    { id: "requests", header: "Requests", align: "right", cell: (b) => b.requests.toLocaleString(), secondary: true },
    ...(canEdit
      ? [
          {
            id: "actions",
            header: <span className="visually-hidden">Actions</span>,
            cell: (b: TTagBudget) => (
              <button
                type="button"
                className="btn btn-small btn-danger-ghost"
                disabled={remove.isPending}
                onClick={() => window.confirm(`Remove the budget on ${b.tag}? Its requests are no longer capped.`) && remove.mutate(b.tag)}
              >
                Remove
              </button>
            ),
          } satisfies Column<TTagBudget>,
        ]
      : []),
  ];
  return (
    <section className="card card-flush" aria-label="Tag budgets">
      <div className="table-toolbar">
        <h2>Tag budgets</h2>
        <span className="muted">Caps every request carrying the tag — its own x-switchboard-tags or its API key&apos;s — whoever sends it.</span>
      </div>
      {canEdit ? <SetTagBudgetForm /> : null}
      {list.isError ? (
        <p className="alert alert-error table-message" role="alert">{messageOf(list.error)}</p>
      ) : (
        <DataTable label="Tag budgets" testId="tag-budgets" columns={columns} rows={list.data ?? []} rowKey={(b) => b.tag} busy={list.isFetching} empty="No tag budgets." />
      )}
      <FormError message={remove.isError ? messageOf(remove.error) : null} />
    </section>
  );
}
