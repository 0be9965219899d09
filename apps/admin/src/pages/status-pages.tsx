import type { TRole } from "@switchboard/schema";
import { PageHeader } from "../components/page-header.tsx";
import { ROLE_LABELS } from "../lib/roles.ts";
import { Link } from "../lib/router.tsx";

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" description="There is no page at this address." />
      <p><Link to="/">Back to the dashboard</Link></p>
    </>
  );
}

export function ForbiddenPage({ role }: { role: TRole }) {
  return (
    <>
      <PageHeader title="Not allowed" description={`This page needs the ${ROLE_LABELS[role]} role.`} />
      <p><Link to="/">Back to the dashboard</Link></p>
    </>
  );
}
