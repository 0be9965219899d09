import type { TUser } from "@switchboard/schema";
import { useEffect, useId, useState } from "react";
import { PageHeader } from "../../components/page-header.tsx";
import { listFailed, LoadMore, pageRows } from "../../components/load-more.tsx";
import { NoticeSlot, useNotice } from "../../components/notice.tsx";
import { messageOf } from "../../lib/errors.ts";
import { ROLE_LABELS } from "../../lib/roles.ts";
import { BUDGET_PER_LABELS } from "../../components/budget-fields.tsx";
import { usd } from "../usage-data.ts";
import { useCurrentUser } from "../../lib/session.tsx";
import { CreateUserForm } from "./create-user-form.tsx";
import { DeleteUserDialog } from "./delete-user-dialog.tsx";
import { EditBudgetDialog } from "./edit-budget-dialog.tsx";
import { ResetPasswordDialog } from "./reset-password-dialog.tsx";
import { UserRow, type RowEvents } from "./user-row.tsx";
import { useUsersList } from "./users-data.ts";

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

function budgetNotice(user: TUser): string {
  if (user.budgetUsd === null) return `${user.email} has no budget now.`;
  return `Budget of ${user.email} set to ${usd(user.budgetUsd)} ${BUDGET_PER_LABELS[user.budgetPeriod]}.`;
}

export function UsersPage() {
  const me = useCurrentUser();
  const [searchText, setSearchText] = useState("");
  const search = useDebounced(searchText.trim(), 250);
  const list = useUsersList(search);
  const [notice, setNotice] = useNotice();
  const [resetting, setResetting] = useState<TUser | null>(null);
  const [deleting, setDeleting] = useState<TUser | null>(null);
  const [budgeting, setBudgeting] = useState<TUser | null>(null);
  const ids = { search: useId(), table: useId() };

  const users = pageRows(list.data?.pages, (u) => u.id);
  const events: RowEvents = {
    onNotice: (kind, text) => setNotice({ kind, text }),
    onResetPassword: (user) => setResetting(user),
    onDelete: (user) => setDeleting(user),
    onEditBudget: (user) => setBudgeting(user),
  };

  return (
    <>
      <PageHeader title="Users" description="Accounts that can sign in to the admin console and call the API." />

      <NoticeSlot notice={notice} onDismiss={() => setNotice(null)} testId="users-notice" />

      <CreateUserForm onCreated={(email, role) => setNotice({ kind: "success", text: `Created ${email} (${ROLE_LABELS[role]}).` })} />

      <section className="card card-flush" aria-labelledby={ids.table}>
        <div className="table-toolbar">
          <h2 id={ids.table}>
            All users {list.data ? <span className="count">{users.length}{list.hasNextPage ? "+" : ""}</span> : null}
          </h2>
          <div className="search">
            <label htmlFor={ids.search} className="visually-hidden">Search users</label>
            <input id={ids.search} type="search" placeholder="Search by email" value={searchText} onChange={(e) => setSearchText(e.target.value)} />
          </div>
        </div>

        {listFailed(list) ? (
          <p className="alert alert-error table-message" role="alert">{messageOf(list.error)}</p>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-labelledby={ids.table} aria-busy={list.isFetching || undefined}>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Spend / budget</th>
                  <th scope="col">Last login</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {users.map((user) => <UserRow key={user.id} user={user} isSelf={user.id === me.id} spentUsd={user.spendUsd} events={events} />)}
                {list.isPending ? (
                  <tr><td colSpan={6} className="table-empty">Loading users…</td></tr>
                ) : users.length === 0 ? (
                  <tr><td colSpan={6} className="table-empty">{search ? `No users match “${search}”.` : "No users yet."}</td></tr>
                ) : null}
              </tbody>
            </table>
          </div>
        )}
        <LoadMore query={list} />
      </section>

      {resetting ? (
        <ResetPasswordDialog
          user={resetting}
          onClose={() => setResetting(null)}
          onDone={(email, keysRevoked) => {
            setResetting(null);
            const keys = keysRevoked ? " Their API keys were revoked." : "";
            setNotice({ kind: "success", text: `Password reset for ${email}. Their sessions were signed out.${keys}` });
          }}
        />
      ) : null}

      {budgeting ? (
        <EditBudgetDialog
          user={budgeting}
          onClose={() => setBudgeting(null)}
          onDone={(user) => {
            setBudgeting(null);
            setNotice({ kind: "success", text: budgetNotice(user) });
          }}
        />
      ) : null}

      {deleting ? (
        <DeleteUserDialog
          user={deleting}
          onClose={() => setDeleting(null)}
          onDone={(email) => {
            setDeleting(null);
            setNotice({ kind: "success", text: `Deleted ${email}. Their sessions were signed out.` });
          }}
        />
      ) : null}
    </>
  );
}
