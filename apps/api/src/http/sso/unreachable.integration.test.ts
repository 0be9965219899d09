/**
 * An identity provider that cannot be reached while the browser is back at the callback: the
 * gateway's upstream failing, so a 502 page saying to try again (with Retry-After), as
 * discovery at login gets; within the bound set for a provider's answer (OIDC_TIMEOUT_MS),
 * however the provider fails (connection reset, accepted and never answered, a 5xx, a 200 that
 * is not JSON). A real OpenID Connect provider (`oidc-provider`) sits
 * behind a TCP link the test breaks; GitHub is a local stand-in answering as GitHub does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../../test/redis.ts";
import { startTcpLink, type TcpLink } from "../../../test/tcp-link.ts";

const CLIENT = { id: "switchboard", secret: "a-client-secret-for-the-test" };
/** The bound on a provider's answer in these tests (OIDC_TIMEOUT_MS, 10 s by default). */
const TIMEOUT_MS = 400;
const BOUND = { OIDC_TIMEOUT_MS: String(TIMEOUT_MS) };

/** Starts a sign-in at `start`; the flow cookie and the state sent to the provider. */
async function startSignIn(url: string): Promise<{ cookie: string; state: string }> {
  const res = await fetch(url, { redirect: "manual" });
  expect(res.status).toBe(302);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("sb_sso="))!.split(";")[0]!;
  return { cookie, state: new URL(res.headers.get("location")!).searchParams.get("state")! };
}

/** The browser back at `url` (a callback); the status, the page and the time it took. */
async function callback(url: string, cookie: string) {
  const started = Date.now();
  const res = await fetch(url, { redirect: "manual", headers: { accept: "text/html", cookie } });
  return {
    status: res.status,
    body: await res.text(),
    ms: Date.now() - started,
    signedIn: res.headers.getSetCookie().some((c) => c.startsWith("sb_access=")),
    retryAfter: res.headers.get("retry-after"),
  };
}

function expectTryAgainPage(page: Awaited<ReturnType<typeof callback>>): void {
  expect(page.status).toBe(502);
  expect(page.body).toContain("cannot be reached right now; try again later");
  // Whole seconds, as every other answer of the gateway's says when to retry.
  expect(page.retryAfter).toBe("5");
  expect(page.signedIn).toBe(false);
  // Bounded: the bound plus the time a sign-in takes, far below the default 10 s.
  expect(page.ms).toBeLessThan(TIMEOUT_MS + 3_000);
}

describe("OIDC provider unreachable at the callback", () => {
  let link: TcpLink;
  let idp: Server;
  let issuer: string;
  /** `a` starts the sign-ins; `b` (same cluster) has never read the provider's discovery. */
  let a: TestApp;
  let b: TestApp;
  const prefix = uniquePrefix("sso-unreachable");
  let failWith: number | null = null;
  /** The token endpoint answering 200 with a body that is not JSON, as `content-type` says, while set. */
  let tokenAnswersNotJson: string | null = null;

  beforeAll(async () => {
    // The provider's server listens first (on a port of its own, held from the start), its
    // handler set once the provider is built: the provider needs the issuer, the link's address.
    let handle: ((req: IncomingMessage, res: ServerResponse) => unknown) | undefined = undefined;
    // A provider failing on its side: every request answered with `failWith` while it is set.
    idp = createServer((req, res) => {
      if (tokenAnswersNotJson !== null && req.url === "/token") return void res.writeHead(200, { "content-type": tokenAnswersNotJson }).end("<html>maintenance</html>");
      return failWith === null && handle ? handle(req, res) : res.writeHead(failWith ?? 503, { "content-type": "text/html" }).end("<h1>Bad gateway</h1>");
    });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    link = await startTcpLink({ host: "127.0.0.1", port: (idp.address() as AddressInfo).port });
    issuer = `http://127.0.0.1:${link.port}`;
    const env = { OIDC_ISSUER: issuer, OIDC_CLIENT_ID: CLIENT.id, OIDC_CLIENT_SECRET: CLIENT.secret, ...BOUND };
    a = await startTestApp({ env, redisKeyPrefix: prefix });
    b = await startTestApp({ env, redisKeyPrefix: prefix, databaseUrl: a.app.deps.env.DATABASE_URL! });
    const provider = new Provider(issuer, {
      clients: [{ client_id: CLIENT.id, client_secret: CLIENT.secret, redirect_uris: [`${a.url}/auth/oidc/callback`], grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "client_secret_post" }],
      pkce: { required: () => true },
      cookies: { keys: ["a-cookie-key-for-the-test-provider"] },
    });
    handle = provider.callback();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await link?.close();
    await new Promise((resolve) => idp?.close(resolve));
    await deleteKeysWithPrefix(prefix);
  });

  const backAt = (app: TestApp, flow: { state: string }) => `${app.url}/auth/oidc/callback?code=a-code&state=${flow.state}&iss=${encodeURIComponent(issuer)}`;

  it("with the provider up, a code it does not know is the person's failed check: still a 400", async () => {
    link.set("up");
    const flow = await startSignIn(`${a.url}/auth/oidc/login`);
    const page = await callback(backAt(a, flow), flow.cookie);
    expect(page.status).toBe(400);
    expect(page.body).toContain("could not be verified");
  });

  it("the token endpoint refusing connections is a 502 to try again", async () => {
    link.set("up");
    const flow = await startSignIn(`${a.url}/auth/oidc/login`);
    link.set("down");
    expectTryAgainPage(await callback(backAt(a, flow), flow.cookie));
  });

  it("a provider that accepts the connection and never answers is a 502 once the bound passes", async () => {
    link.set("up");
    const flow = await startSignIn(`${a.url}/auth/oidc/login`);
    link.set("silent");
    const page = await callback(backAt(a, flow), flow.cookie);
    expectTryAgainPage(page);
    expect(page.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  });

  it("the token endpoint answering 5xx is a 502", async () => {
    link.set("up");
    const flow = await startSignIn(`${a.url}/auth/oidc/login`);
    failWith = 503;
    try {
      expectTryAgainPage(await callback(backAt(a, flow), flow.cookie));
    } finally {
      failWith = null;
    }
  });

  it("the token endpoint answering 200 with a body that is not JSON (labelled as HTML or as JSON) is a 502", async () => {
    for (const contentType of ["text/html", "application/json"]) {
      link.set("up");
      const flow = await startSignIn(`${a.url}/auth/oidc/login`);
      tokenAnswersNotJson = contentType;
      try {
        expectTryAgainPage(await callback(backAt(a, flow), flow.cookie));
      } finally {
        tokenAnswersNotJson = null;
      }
    }
  });

  it("discovery failing at login is the same 502 page", async () => {
    link.set("down");
    try {
      const res = await fetch(`${b.url}/auth/oidc/login`, { redirect: "manual" });
      expect(res.status).toBe(502);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.text()).toContain("cannot be reached right now; try again later");
    } finally {
      link.set("up");
    }
  });

  it("discovery failing at the callback (an instance that had not read it yet) is a 502, down or silent", async () => {
    for (const state of ["down", "silent"] as const) {
      link.set("up");
      const flow = await startSignIn(`${a.url}/auth/oidc/login`);
      link.set(state);
      expectTryAgainPage(await callback(backAt(b, flow), flow.cookie));
    }
    link.set("up");
  });
});

describe("GitHub unreachable at the callback", () => {
  let t: TestApp;
  let stand: Server;
  let link: TcpLink;
  /** How the stand-in answers each path (default: as GitHub does for a good code). */
  let behaviour: Record<string, "ok" | "503" | "hang" | "html"> = {};
  const answers: Record<string, unknown> = {
    "/login/oauth/access_token": { access_token: "gho_token", token_type: "bearer", scope: "read:user,user:email" },
    "/api/user": { id: 4242, login: "octo" },
    "/api/user/emails": [{ email: "octo@corp.example", primary: true, verified: true }],
  };

  beforeAll(async () => {
    stand = createServer((req, res) => {
      const path = new URL(req.url!, "http://x").pathname;
      const how = behaviour[path] ?? "ok";
      if (how === "hang") return;
      if (how === "503") return void res.writeHead(503).end("unavailable");
      if (how === "html") return void res.writeHead(200, { "content-type": "text/html" }).end("<html>maintenance</html>");
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answers[path] ?? {}));
    });
    await new Promise<void>((resolve) => stand.listen(0, "127.0.0.1", resolve));
    link = await startTcpLink({ host: "127.0.0.1", port: (stand.address() as { port: number }).port });
    const base = `http://127.0.0.1:${link.port}`;
    t = await startTestApp({
      mode: "embedded",
      env: { GITHUB_CLIENT_ID: "gh-client", GITHUB_CLIENT_SECRET: "gh-secret", ...BOUND },
      appOptions: { ssoUpstream: { github: { authorize: `${base}/login/oauth/authorize`, token: `${base}/login/oauth/access_token`, api: `${base}/api` } } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await link?.close();
    stand?.closeAllConnections();
    await new Promise((resolve) => stand?.close(resolve));
  });

  async function githubCallback() {
    const flow = await startSignIn(`${t.url}/auth/github`);
    return callback(`${t.url}/auth/github/callback?code=a-code&state=${flow.state}`, flow.cookie);
  }

  it("with GitHub answering, the sign-in goes through (the stand-in answers as GitHub does)", async () => {
    behaviour = {};
    link.set("up");
    const page = await githubCallback();
    expect(page.status).toBe(302);
    expect(page.signedIn).toBe(true);
  });

  it("GitHub refusing connections is a 502 to try again", async () => {
    behaviour = {};
    link.set("down");
    try {
      expectTryAgainPage(await githubCallback());
    } finally {
      link.set("up");
    }
  });

  it("the token endpoint accepting the connection and never answering is a 502 once the bound passes", async () => {
    behaviour = { "/login/oauth/access_token": "hang" };
    expectTryAgainPage(await githubCallback());
  });

  it("the token endpoint answering 5xx, or a page that is not its JSON, is a 502", async () => {
    for (const how of ["503", "html"] as const) {
      behaviour = { "/login/oauth/access_token": how };
      expectTryAgainPage(await githubCallback());
    }
  });

  it("the user endpoints answering 5xx or never answering is a 502", async () => {
    for (const [path, how] of [["/api/user", "503"], ["/api/user/emails", "hang"]] as const) {
      behaviour = { [path]: how };
      expectTryAgainPage(await githubCallback());
    }
  });
});
