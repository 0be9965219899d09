/**
 * Sign-in with GitHub (OAuth2 with state and PKCE): GET /auth/github → GitHub's consent
 * page, GET /auth/github/callback → session cookies + redirect, or an error page. The user's
 * primary verified email decides which Switchboard user it is (OIDC_ALLOWED_DOMAINS applies).
 */
import { createHash, randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { AppError } from "../../services/errors.ts";
import { publicBase, safeReturnTo, startFlow, takeFlow } from "./flow.ts";
import { finishSignIn, flowRefused, signInError, signInFailed } from "./respond.ts";
import { ProviderUnreachable, providerFetch, providerTimeoutMs } from "./upstream.ts";

const GITHUB = { authorize: "https://github.com/login/oauth/authorize", token: "https://github.com/login/oauth/access_token", api: "https://api.github.com" };

/** An answer that is not JSON (a proxy's error page on a 4xx; a success is checked on arrival) is GitHub failing, not the person. */
async function jsonOf(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch (error) {
    throw new ProviderUnreachable(`GitHub's answer (${res.status}) could not be read`, { cause: error });
  }
}

const random = () => randomBytes(32).toString("base64url");

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

export function registerGithubRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { GITHUB_CLIENT_ID: clientId, GITHUB_CLIENT_SECRET: clientSecret } = deps.env;
  if (!clientId || !clientSecret) return;
  const github = { ...GITHUB, ...deps.ssoUpstream?.github };
  const call = providerFetch(providerTimeoutMs(deps));

  app.get("/auth/github", { config: { feature: "auth", openapi: { summary: "Start sign-in with GitHub (302 to it)", tags: ["auth"], auth: "none", responses: { 302: "Redirect to GitHub" } } } }, async (request, reply) => {
    const state = random();
    const verifier = random();
    const redirectUri = `${publicBase(deps, request)}/auth/github/callback`;
    await startFlow(deps, reply, { provider: "github", state, verifier, redirectUri, returnTo: safeReturnTo((request.query as { returnTo?: unknown }).returnTo) });
    const url = new URL(github.authorize);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: "read:user user:email",
      state,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
      allow_signup: "false",
    }).toString();
    return reply.header("cache-control", "no-store").redirect(url.href, 302);
  });

  app.get("/auth/github/callback", { config: { feature: "auth", openapi: { summary: "GitHub's redirect back: sets the session cookies", tags: ["auth"], auth: "none", responses: { 302: "Signed in: redirect to returnTo", 400: "Failed check (HTML page)", 403: "Refused (HTML page)", 502: "GitHub unreachable (HTML page)" } } } }, async (request, reply) => {
    const taken = await takeFlow(deps, request, reply, "github");
    if ("refused" in taken) return flowRefused(reply, taken.refused);
    const { flow } = taken;
    const query = request.query as Record<string, unknown>;
    if (typeof query["error"] === "string") return signInFailed(reply, 403, `GitHub refused the sign-in: ${String(query["error_description"] ?? query["error"])}`);
    if (typeof query["code"] !== "string" || query["code"].length > 200) return signInFailed(reply, 400, "GitHub sent no authorization code.");
    try {
      const tokenRes = await call(github.token, {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/json" },
        body: JSON.stringify({ client_id: clientId, client_secret: clientSecret, code: query["code"], redirect_uri: flow.redirectUri, code_verifier: flow.verifier }),
      });
      const token = ((await jsonOf(tokenRes)) ?? {}) as { access_token?: string; error_description?: string; error?: string };
      if (!token.access_token) throw new AppError("UNAUTHORIZED", `GitHub did not issue a token: ${token.error_description ?? token.error ?? tokenRes.status}`);
      const api = async (path: string) =>
        jsonOf(await call(`${github.api}${path}`, { headers: { authorization: `Bearer ${token.access_token}`, accept: "application/vnd.github+json", "user-agent": "switchboard" } }));
      const [user, emails] = (await Promise.all([api("/user"), api("/user/emails")])) as [{ id?: number } | null, GithubEmail[]];
      if (typeof user?.id !== "number") throw new AppError("UNAUTHORIZED", "GitHub did not say who you are");
      const chosen = Array.isArray(emails) ? (emails.find((e) => e.primary && e.verified) ?? emails.find((e) => e.verified)) : undefined;
      const session = await deps.sso.signIn(
        { provider: "github", subject: String(user.id), email: chosen?.email ?? null, emailVerified: chosen !== undefined },
        { ip: request.ip, userAgent: request.headers["user-agent"] },
      );
      return finishSignIn(deps, reply, session, flow.returnTo);
    } catch (error) {
      return signInError(reply, error, request.log);
    }
  });
}
