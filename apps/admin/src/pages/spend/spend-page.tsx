import { ZRequestTag } from "@switchboard/schema";
import { useState } from "react";
import { PageHeader } from "../../components/page-header.tsx";
import { roleAtLeast } from "../../lib/roles.ts";
import { useCurrentUser } from "../../lib/session.tsx";
import { SpendByDay, TopSpend } from "./spend-panels.tsx";
import { TagBudgets } from "./tag-budgets.tsx";

const TABS = [
  { id: "key", title: "By API key" },
  { id: "model", title: "By model" },
  { id: "user", title: "By user" },
  { id: "provider", title: "By provider" },
  { id: "tag", title: "By tag" },
] as const;

export function SpendPage() {
  const me = useCurrentUser();
  const [tab, setTab] = useState<(typeof TABS)[number]["id"]>("key");
  const [tagText, setTagText] = useState("");
  const current = TABS.find((t) => t.id === tab)!;
  // Only a well-formed tag is asked for; a half-typed one says what a tag may hold.
  const checked = tagText.trim() ? ZRequestTag.safeParse(tagText) : undefined;
  const tag = checked?.success ? checked.data : undefined;
  return (
    <>
      <PageHeader title="Spend" description="Cost of gateway requests from the request log (tokens × each model's prices)." />
      <div className="spend-filter">
        <label>
          Tag <input aria-label="Tag" placeholder="team:search (x-switchboard-tags)" value={tagText} onChange={(e) => setTagText(e.target.value)} aria-invalid={checked?.success === false} />
        </label>
        <span className="muted" role="status">
          {checked?.success === false ? checked.error.issues[0]?.message : tag ? "Only requests sent with this tag, for as long as the request log keeps them." : "Every request."}
        </span>
      </div>
      <SpendByDay tag={tag} />
      <div className="tabs" role="tablist" aria-label="Group spend by">
        {TABS.map((t) => (
          <button key={t.id} type="button" role="tab" aria-selected={t.id === tab} className="tab" onClick={() => setTab(t.id)}>
            {t.title}
          </button>
        ))}
      </div>
      {tab === "tag" ? <p className="muted">A request counts under each of its tags (untagged ones under “(none)”), so the rows add up to more than the total; as far back as the request log keeps requests.</p> : null}
      <TopSpend groupBy={current.id} title={current.title} tag={tag} />
      {roleAtLeast(me.role, "ADMIN") ? <TagBudgets canEdit={roleAtLeast(me.role, "SUPERADMIN")} /> : null}
    </>
  );
}
