/**
 * Sign-in with any OpenID Connect provider (Google, Microsoft, Okta, Keycloak, Auth0…):
 * Authorization Code with PKCE, state and nonce, through `openid-client`.
 *   GET /auth/oidc/login[?returnTo=/path] → 302 to the provider
 *   GET /auth/oidc/callback               → session cookies + 302 to returnTo, or an error page
 * The provider's configuration is discovered on first use (and retried after a failure), so
 * a provider that is down does not stop Switchboard from starting.
 */
import * as oidc from "openid-client";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../../deps.ts";
import { publicBase, safeReturnTo, startFlow, takeFlow } from "./flow.ts";
import { finishSignIn, flowRefused, providerUnreachable, signInError, signInFailed } from "./respond.ts";
import { ProviderUnreachable, providerFetch, providerTimeoutMs } from "./upstream.ts";

export function registerOidcRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { OIDC_ISSUER: issuer, OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret } = deps.env;
  if (!issuer || !clientId) return;
  const timeoutMs = providerTimeoutMs(deps);
  const bounded = providerFetch(timeoutMs);
  let discovered: Promise<oidc.Configuration> | undefined;
  const configuration = () => {
    discovered ??= oidc
      .discovery(new URL(issuer), clientId, clientSecret, clientSecret ? oidc.ClientSecretPost(clientSecret) : oidc.None(), {
        // http:// issuers are for local providers (development, tests); production ones are https.
        ...(new URL(issuer).protocol === "http:" ? { execute: [oidc.allowInsecureRequests] } : {}),
        // Every call (discovery, token, userinfo, keys) is bounded and tells an unreachable
        // provider apart; openid-client's own bound (whole seconds) is kept no shorter.
        // openid-client hands on what it would give fetch itself; its body type is declared apart
        // from the DOM's RequestInit (a Uint8Array of any buffer), which the admin's check reads.
        [oidc.customFetch]: (url: string, options: oidc.CustomFetchOptions) => bounded(url, options as unknown as RequestInit),
        timeout: Math.ceil(timeoutMs / 1000),
      })
      .catch((error: unknown) => {
        discovered = undefined;
        // Whatever failed, discovery did: the provider is not usable right now (as at login).
        throw new ProviderUnreachable("OIDC discovery failed", { cause: error });
      });
    return discovered;
  };

  app.get("/auth/oidc/login", { config: { feature: "auth", openapi: { summary: "Start single sign-on with the OIDC provider (302 to it)", tags: ["auth"], auth: "none", responses: { 302: "Redirect to the provider", 502: "Provider unreachable (HTML page)" } } } }, async (request, reply) => {
    let config: oidc.Configuration;
    try {
      config = await configuration();
    } catch (error) {
      request.log.warn({ err: error, issuer }, "OIDC discovery failed");
      return providerUnreachable(reply);
    }
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const redirectUri = `${publicBase(deps, request)}/auth/oidc/callback`;
    await startFlow(deps, reply, {
      provider: "oidc",
      state,
      nonce,
      verifier,
      redirectUri,
      returnTo: safeReturnTo((request.query as { returnTo?: unknown }).returnTo),
    });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid email profile",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return reply.header("cache-control", "no-store").redirect(url.href, 302);
  });

  app.get("/auth/oidc/callback", { config: { feature: "auth", openapi: { summary: "OIDC provider's redirect back: sets the session cookies", tags: ["auth"], auth: "none", responses: { 302: "Signed in: redirect to returnTo", 400: "Failed check (HTML page)", 403: "Refused (HTML page)", 502: "Provider unreachable (HTML page)" } } } }, async (request, reply) => {
    const taken = await takeFlow(deps, request, reply, "oidc");
    if ("refused" in taken) return flowRefused(reply, taken.refused);
    const { flow } = taken;
    const query = request.query as Record<string, unknown>;
    if (typeof query["error"] === "string") {
      return signInFailed(reply, 403, `The identity provider refused the sign-in: ${String(query["error_description"] ?? query["error"])}`);
    }
    try {
      const config = await configuration();
      const callbackUrl = new URL(request.url, flow.redirectUri);
      // Checks state (again), PKCE (the provider verifies the verifier), the ID token's signature,
      // issuer, audience, expiry and nonce.
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      let email = typeof claims["email"] === "string" ? claims["email"] : null;
      let verified = claims["email_verified"] === true;
      if (email === null) {
        // Some providers put the email only in userinfo.
        const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
        email = typeof info.email === "string" ? info.email : null;
        verified = info.email_verified === true;
      }
      const session = await deps.sso.signIn(
        { provider: "oidc", subject: `${claims.iss} ${claims.sub}`, email, emailVerified: verified },
        { ip: request.ip, userAgent: request.headers["user-agent"] },
      );
      return finishSignIn(deps, reply, session, flow.returnTo);
    } catch (error) {
      return signInError(reply, error, request.log);
    }
  });
}
