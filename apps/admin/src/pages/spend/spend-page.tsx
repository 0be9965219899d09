import { useState } from "react";
import { PageHeader } from "../../components/page-header.tsx";
import { SpendByDay, TopSpend } from "./spend-panels.tsx";

const TABS = [
  { id: "key", title: "By API key" },
  { id: "model", title: "By model" },
  { id: "user", title: "By user" },
  { id: "provider", title: "By provider" },
] as const;

export function SpendPage() {
  const [tab, setTab] = useState<(typeof TABS)[number]["id"]>("key");
  const current = TABS.find((t) => t.id === tab)!;
  return (
    <>
      <PageHeader title="Spend" description="Cost of gateway requests from the request log (tokens × each model's prices)." />
      <SpendByDay />
      <div className="tabs" role="tablist" aria-label="Group spend by">
        {TABS.map((t) => (
          <button key={t.id} type="button" role="tab" aria-selected={t.id === tab} className="tab" onClick={() => setTab(t.id)}>
            {t.title}
          </button>
        ))}
      </div>
      <TopSpend groupBy={current.id} title={current.title} />
    </>
  );
}
