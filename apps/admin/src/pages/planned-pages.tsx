import type { ReactNode } from "react";
import { PageHeader } from "../components/layout.tsx";

/**
 * Pages whose API procedures do not exist yet. Each says plainly what it will show and
 * which part of the server it is waiting for, instead of pretending with fake data.
 */
function PlannedPage({ title, description, waitingFor, items }: { title: string; description: string; waitingFor: string; items: ReactNode[] }) {
  return (
    <>
      <PageHeader title={title} description={description} />
      <section className="card planned" aria-labelledby="planned-heading">
        <div className="planned-head">
          <h2 id="planned-heading">What will be here</h2>
          <span className="badge badge-muted">{waitingFor}</span>
        </div>
        <ul className="planned-list">
          {items.map((item, i) => <li key={i}>{item}</li>)}
        </ul>
      </section>
    </>
  );
}

export function ConsensusPage() {
  return (
    <PlannedPage
      title="Consensus"
      description="Ask several models the same question and compare what they agree on."
      waitingFor="Coming with the consensus service"
      items={[
        "Run a prompt against several providers with a strategy and quorum.",
        "Each model's answer side by side, streamed as it arrives, with the agreed result.",
        "History of past consensus runs.",
      ]}
    />
  );
}
