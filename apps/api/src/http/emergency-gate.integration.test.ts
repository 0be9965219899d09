/**
 * The emergency gate decides by the feature a route or procedure declares, after routing:
 * percent-encoded, dot-segment, doubled-slash and case variants of a gateway URL never reach
 * the gateway while frozen; ADMINs keep read-only observability; leak containment works.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";
import { captureLog } from "../../test/log-capture.ts";

let t: TestApp;
let root: string;
let admin: string;
let user: { id: string; token: string };
/** Whose password leaked: signed in, with API keys made before the freeze. */
let leaked: { id: string; email: string; password: string; token: string; keys: string[] };
const log = captureLog();

beforeAll(async () => {
  t = await startTestApp({ env: { LOG_LEVEL: "warn" }, logDestination: log.sink });
  root = await t.login();
  admin = (await t.userWithRole("ADMIN")).token;
  const u = await t.userWithRole("USER");
  user = { id: u.id, token: u.token };
  const l = await t.userWithRole("USER");
  const keys = [];
  for (const name of ["script", "made with the leaked password"]) keys.push((await trpcMutation(t.url, "keys.create", { name }, bearer(l.token))).body.result.data.key as string);
  leaked = { ...l, keys };
});

afterAll(async () => {
  await t?.close();
});

/** Sends a request byte for byte as written (fetch would normalise the path). */
async function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const { request } = await import("node:http");
  const url = new URL(t.url);
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("emergency gate by declared feature", () => {
  it("every route declares its feature", () => {
    expect(log.text()).not.toContain("declare no feature");
  });

  it("no spelling of a gateway URL reaches the gateway while frozen", async () => {
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "incident" }, bearer(root))).status).toBe(200);
    const auth = bearer(root);
    // The router decodes these to /v1/…: the gate sees the matched route, so 503.
    for (const path of ["/%76%31/models", "/v1/%6Dodels", "/%76%31/models?x=1"]) {
      const res = await raw("GET", path, auth);
      expect(res.status, path).toBe(503);
    }
    expect((await raw("POST", "/%76%31/chat/completions", auth, JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }] }))).status).toBe(503);
    // These match no route at all: refused (400/403/404) or the SPA's page, never the model list.
    for (const path of ["/v1/../v1/models", "//v1/models", "/V1/models", "/v1//models", "/v1/./models", "/%2e%2e/v1/models"]) {
      const res = await raw("GET", path, auth);
      expect(res.status, path).not.toBe(500);
      expect(res.text, path).not.toContain('"object":"list"');
      expect([400, 403, 404, 503, 200], path).toContain(res.status);
      if (res.status === 200) expect(res.text, path).toContain("<html");
    }
  });

  it("keeps read-only observability for ADMIN and above; a USER gets 503", async () => {
    for (const token of [root, admin]) {
      expect((await trpcQuery(t.url, "metrics.summary", undefined, bearer(token))).status).toBe(200);
      expect((await trpcQuery(t.url, "metrics.timeseries", {}, bearer(token))).status).toBe(200);
      expect((await trpcQuery(t.url, "emergency.history", undefined, bearer(token))).status).toBe(200);
    }
    const refused = await trpcQuery(t.url, "metrics.summary", undefined, bearer(user.token));
    expect(refused.status).toBe(503);
    expect(refused.body.error.data.appCode).toBe("EMERGENCY_STOP");
    expect((await trpcQuery(t.url, "metrics.summary")).status).toBe(503);
  });

  it("lets leak containment through: disabling a user, not other changes", async () => {
    expect((await trpcMutation(t.url, "users.update", { id: user.id, role: "ADMIN" }, bearer(root))).status).toBe(503);
    expect((await trpcMutation(t.url, "users.update", { id: user.id, disabled: true, role: "ADMIN" }, bearer(root))).status).toBe(503);
    expect((await trpcMutation(t.url, "users.create", { email: "x@switchboard.test", password: "a-long-enough-password", role: "USER" }, bearer(root))).status).toBe(503);
    const disabled = await trpcMutation(t.url, "users.update", { id: user.id, disabled: true }, bearer(root));
    expect(disabled.status).toBe(200);
    expect(disabled.body.result.data.disabled).toBe(true);
    // The containment exemption is no way around the role check.
    expect((await trpcMutation(t.url, "users.update", { id: user.id, disabled: true }, bearer(admin))).status).toBe(403);
  });

  it("lets revoking keys and resetting a password through, alone or together; nothing riding with them", async () => {
    const update = (input: Record<string, unknown>, token = root) => trpcMutation(t.url, "users.update", { id: leaked.id, ...input }, bearer(token));
    for (const extra of [{ role: "ADMIN" }, { budgetUsd: 5 }, { disabled: false }]) {
      for (const containment of [{ revokeKeys: true }, { password: "a passphrase never set" }, { revokeKeys: true, password: "a passphrase never set" }]) {
        expect((await update({ ...containment, ...extra })).status, JSON.stringify({ ...containment, ...extra })).toBe(503);
      }
    }
    // Only values that take access away count: revokeKeys: false is an ordinary (and invalid) change.
    expect((await update({ revokeKeys: false })).status).toBe(503);
    expect((await update({ revokeKeys: true }, admin)).status).toBe(403);
    expect((await update({ revokeKeys: true })).status).toBe(200);
    const reset = await update({ password: "a passphrase after the leak", revokeKeys: true });
    expect(reset.status).toBe(200);
    expect(reset.body.result.data.disabled).toBe(false);
    expect((await update({ password: "the passphrase that holds" })).status).toBe(200);
    // Sign-in is never frozen: the leaked password and the sessions it opened are done; the new one works.
    expect((await trpcQuery(t.url, "auth.me", undefined, bearer(leaked.token))).status).toBe(401);
    expect((await trpcMutation(t.url, "auth.login", { email: leaked.email, password: leaked.password })).status).toBe(401);
    expect((await trpcMutation(t.url, "auth.login", { email: leaked.email, password: "the passphrase that holds" })).status).toBe(200);

    // Once lifted, the keys stay revoked.
    expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
    for (const key of leaked.keys) expect((await fetch(`${t.url}/v1/models`, { headers: bearer(key) })).status).toBe(401);
  });

  it("a chat freeze stops the gateway surface and chat, not consensus models or admin", async () => {
    expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
    expect((await trpcMutation(t.url, "emergency.freeze", { reason: "chat only", scope: "chat" }, bearer(root))).status).toBe(200);
    expect((await raw("GET", "/%76%31/models", bearer(root))).status).toBe(503);
    expect((await trpcQuery(t.url, "chat.providers", undefined, bearer(root))).status).toBe(503);
    expect((await trpcQuery(t.url, "consensus.models", undefined, bearer(root))).status).toBe(200);
    expect((await trpcQuery(t.url, "users.list", {}, bearer(root))).status).toBe(200);
    expect((await trpcMutation(t.url, "emergency.unfreeze", {}, bearer(root))).status).toBe(200);
    expect((await raw("GET", "/%76%31/models", bearer(root))).status).toBe(200);
  });
});
