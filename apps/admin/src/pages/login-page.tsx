import { useQuery } from "@tanstack/react-query";
import { useId, useLayoutEffect, useState, type FormEvent } from "react";
import { Field } from "../components/field.tsx";
import { Logo } from "../components/icons.tsx";
import { fieldErrorsOf, httpStatusOf, messageOf, retryAfterOf } from "../lib/errors.ts";
import { useSession } from "../lib/session.tsx";
import { trpc } from "../lib/trpc.ts";

type LoginProblem =
  | { kind: "credentials" }
  | { kind: "rate-limited"; until: number }
  | { kind: "fields"; fields: Record<string, string> }
  | { kind: "other"; message: string };

function problemOf(error: unknown): LoginProblem {
  const status = httpStatusOf(error);
  if (status === 401) return { kind: "credentials" };
  if (status === 429) return { kind: "rate-limited", until: Date.now() + (retryAfterOf(error) ?? 60) * 1000 };
  const fields = fieldErrorsOf(error);
  if (status === 400 && Object.keys(fields).length > 0) return { kind: "fields", fields };
  return { kind: "other", message: messageOf(error) };
}

/** Whole seconds left until `until`, re-rendering while the countdown runs. */
function useSecondsLeft(until: number | undefined): number {
  const [now, setNow] = useState(() => Date.now());
  useLayoutEffect(() => {
    if (!until) return;
    setNow(Date.now());
    const timer = window.setInterval(() => {
      const t = Date.now();
      setNow(t);
      if (t >= until) window.clearInterval(timer);
    }, 250);
    return () => window.clearInterval(timer);
  }, [until]);
  return until ? Math.max(0, Math.ceil((until - now) / 1000)) : 0;
}

export function LoginPage() {
  const { signIn } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [problem, setProblem] = useState<LoginProblem | null>(null);
  const secondsLeft = useSecondsLeft(problem?.kind === "rate-limited" ? problem.until : undefined);
  const errorId = useId();
  const health = useQuery({ queryKey: ["health"], queryFn: () => trpc.health.check.query(), retry: false });
  const methods = useQuery({ queryKey: ["auth-methods"], queryFn: () => trpc.auth.methods.query(), retry: false });
  const sso = methods.data && (methods.data.oidc || methods.data.github) ? methods.data : null;

  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setPending(true);
    setProblem(null);
    try {
      await signIn(email, password);
      // The app shell sees the user and leaves /login for the requested page.
    } catch (error) {
      setProblem(problemOf(error));
      setPassword("");
    } finally {
      setPending(false);
    }
  };

  const fieldErrors = problem?.kind === "fields" ? problem.fields : {};
  const locked = problem?.kind === "rate-limited" && secondsLeft > 0;
  let alert: string | null = null;
  if (problem?.kind === "credentials") alert = "Invalid email or password.";
  else if (problem?.kind === "rate-limited") {
    alert = locked
      ? `Too many failed sign-in attempts. Try again in ${secondsLeft} s.`
      : "You can try signing in again now.";
  } else if (problem?.kind === "other") alert = problem.message;

  return (
    <main className="login">
      <div className="login-card">
        <div className="login-brand">
          <Logo size={40} />
          <div>
            <div className="brand-name">Switchboard</div>
            <div className="brand-sub">Admin console</div>
          </div>
        </div>
        <h1 className="login-title">Sign in</h1>
        <p className="muted login-lead">Use your Switchboard account. Sessions are kept in secure cookies.</p>

        {alert ? (
          <div id={errorId} className={`alert ${problem?.kind === "rate-limited" && !locked ? "alert-info" : "alert-error"}`} role="alert" data-testid="login-error">
            {alert}
          </div>
        ) : null}

        <form className="form" onSubmit={onSubmit} noValidate aria-describedby={alert ? errorId : undefined}>
          <Field label="Email" error={fieldErrors.email}>
            {(control) => (
              <input {...control} type="email" autoComplete="username" autoFocus required value={email} onChange={(e) => setEmail(e.target.value)} />
            )}
          </Field>
          <Field label="Password" error={fieldErrors.password}>
            {(control) => (
              <input {...control} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
            )}
          </Field>
          <button type="submit" className="btn btn-primary btn-block" disabled={pending || locked}>
            {pending ? "Signing in…" : "Sign in"}
          </button>
        </form>
        {sso ? (
          <div className="login-sso" data-testid="login-sso">
            <div className="login-divider muted"><span>or</span></div>
            {/* Full-page navigations: the provider's pages are not ours to fetch. */}
            {sso.oidc ? (
              <a className="btn btn-block" href="/auth/oidc/login" data-testid="login-oidc">
                Sign in with single sign-on
              </a>
            ) : null}
            {sso.github ? (
              <a className="btn btn-block" href="/auth/github" data-testid="login-github">
                Sign in with GitHub
              </a>
            ) : null}
          </div>
        ) : null}
      </div>
      <p className="login-footer muted" aria-live="polite">
        {health.data ? (
          <><span className="dot dot-ok" aria-hidden="true" /> API online · v{health.data.version} · {health.data.environment}</>
        ) : health.isError ? (
          <><span className="dot dot-bad" aria-hidden="true" /> API unreachable</>
        ) : (
          "\u00a0"
        )}
      </p>
    </main>
  );
}
