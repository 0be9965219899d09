import { useEffect } from "react";
import { Layout } from "./components/layout.tsx";
import { LoginPage } from "./pages/login-page.tsx";
import { NotFoundPage, ForbiddenPage } from "./pages/status-pages.tsx";
import { roleAtLeast } from "./lib/roles.ts";
import { Redirect, safeNext, useLocation } from "./lib/router.tsx";
import { useSession } from "./lib/session.tsx";
import { messageOf } from "./lib/errors.ts";
import { ROUTES } from "./routes.tsx";

export function App() {
  const { path, search, href } = useLocation();
  const { user, error, retry } = useSession();

  const route = ROUTES.find((r) => r.path === path);
  useEffect(() => {
    const title = path === "/login" ? "Sign in" : (route?.label ?? "Not found");
    document.title = `${title} · Switchboard Admin`;
  }, [path, route]);

  if (user === undefined) {
    if (error) {
      return (
        <main className="splash">
          <div className="splash-card" role="alert">
            <h1>Cannot reach Switchboard</h1>
            <p>{messageOf(error)}</p>
            <button type="button" className="btn btn-primary" onClick={retry}>Try again</button>
          </div>
        </main>
      );
    }
    return <main className="splash" aria-busy="true"><p className="muted">Loading…</p></main>;
  }

  if (path === "/login") {
    return user ? <Redirect to={safeNext(search.get("next"))} /> : <LoginPage />;
  }
  if (!user) {
    return <Redirect to={path === "/" ? "/login" : `/login?next=${encodeURIComponent(href)}`} />;
  }

  const Page = route?.page;
  return (
    <Layout user={user} currentPath={path}>
      {!route || !Page ? <NotFoundPage /> : roleAtLeast(user.role, route.role) ? <Page /> : <ForbiddenPage role={route.role} />}
    </Layout>
  );
}
