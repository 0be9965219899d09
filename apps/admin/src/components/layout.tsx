import type { TUser } from "@switchboard/schema";
import { useState, type ReactNode } from "react";
import { ROLE_LABELS, roleAtLeast } from "../lib/roles.ts";
import { Link } from "../lib/router.tsx";
import { useSession } from "../lib/session.tsx";
import { ROUTES } from "../routes.tsx";
import { EmergencyBanner } from "./emergency-banner.tsx";
import { Logo, SignOutIcon } from "./icons.tsx";

/** The signed-in frame: dark sidebar with navigation and the current user, content on the right. */
export function Layout({ user, currentPath, children }: { user: TUser; currentPath: string; children: ReactNode }) {
  const { signOut } = useSession();
  const [signingOut, setSigningOut] = useState(false);
  const visible = ROUTES.filter((route) => roleAtLeast(user.role, route.role));

  const handleSignOut = () => {
    setSigningOut(true);
    void signOut().finally(() => setSigningOut(false));
  };

  return (
    <div className="shell">
      <a className="skip-link" href="#content">Skip to content</a>
      <aside className="sidebar">
        <div className="brand">
          <Logo />
          <div>
            <div className="brand-name">Switchboard</div>
            <div className="brand-sub">Admin console</div>
          </div>
        </div>
        <nav aria-label="Main" className="nav">
          <ul>
            {visible.map(({ path, label, icon: Icon }) => (
              <li key={path}>
                <Link to={path} className="nav-link" aria-current={path === currentPath ? "page" : undefined}>
                  <Icon />
                  <span>{label}</span>
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <section className="account" aria-label="Signed-in user">
          <div className="account-who">
            <div className="avatar" aria-hidden="true">{user.email.slice(0, 1).toUpperCase()}</div>
            <div className="account-text">
              <div className="account-email" data-testid="current-user-email" title={user.email}>{user.email}</div>
              <div className="account-role" data-testid="current-user-role">{ROLE_LABELS[user.role]}</div>
            </div>
          </div>
          <button type="button" className="signout" onClick={handleSignOut} disabled={signingOut}>
            <SignOutIcon />
            <span>{signingOut ? "Signing out…" : "Sign out"}</span>
          </button>
        </section>
      </aside>
      <main id="content" className="content" tabIndex={-1}>
        <EmergencyBanner currentPath={currentPath} />
        {children}
      </main>
    </div>
  );
}
