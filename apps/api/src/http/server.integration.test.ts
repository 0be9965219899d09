/**
 * The HTTP surface on the embedded default (PGlite + in-process coordination): health,
 * readiness, metrics, the SPA fallback, and bad input answered with the right 4xx.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { bearer, trpcMutation, trpcQuery } from "../../test/http.ts";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ mode: "embedded" });
});
afterAll(async () => t?.close());

describe("ops endpoints", () => {
  it("GET /health reports status, uptime and version", async () => {
    const res = await fetch(`${t.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { timestamp: string };
    expect(body).toMatchObject({ status: "ok", environment: "test", version: expect.any(String) });
    expect(new Date(body.timestamp).toString()).not.toBe("Invalid Date");
  });

  it("GET /ready checks the database and coordination", async () => {
    const res = await fetch(`${t.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "ready",
      checks: { database: { status: "ok", kind: "pglite" }, coordination: { status: "ok", kind: "memory" } },
    });
  });

  it("health.check is a public procedure", async () => {
    const res = await trpcQuery(t.url, "health.check");
    expect(res.body.result.data.status).toBe("ok");
  });

  it("GET /metrics serves Prometheus text with process metrics", async () => {
    const res = await fetch(`${t.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    expect(await res.text()).toMatch(/^switchboard_process_cpu_seconds_total/m);
  });
});

describe("bad input never yields a 500", () => {
  it("malformed JSON → 400", async () => {
    const res = await fetch(`${t.url}/trpc/auth.login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"email": "a@b.c", "password": ',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/JSON/);
  });

  it("wrong types → 400 with zod field errors", async () => {
    const res = await trpcMutation(t.url, "auth.login", { email: 42, password: ["x"] });
    expect(res.status).toBe(400);
    expect(res.body.error.data.zodError.fieldErrors).toHaveProperty("email");
  });

  it("a zod refusal says in one line what is wrong (first issue, then how many more); the issues stay structured", async () => {
    const res = await trpcMutation(t.url, "auth.login", { email: 42, password: ["x"] });
    expect(res.body.error.message).toBe("email: Invalid input: expected string, received number (and 1 more)");
    expect(res.body.error.data.zodError.fieldErrors).toEqual({ email: [expect.any(String)], password: [expect.any(String)] });

    const one = await trpcMutation(t.url, "auth.login", { email: "someone@example.com", password: "" });
    expect(one.body.error.message).toBe("password: Too small: expected string to have >=1 characters");

    // The REST twins of procedures say it the same way, with the issues under `issues`.
    const rest = await fetch(`${t.url}/api/admin/emergency/freeze`, {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(await t.login()) },
      body: JSON.stringify({ expiresInSec: -1 }),
    });
    expect(rest.status).toBe(400);
    const body = (await rest.json()) as { error: { code: string; message: string; issues: { fieldErrors: Record<string, string[]> } } };
    expect(body.error.code).toBe("BAD_REQUEST");
    expect(body.error.message).toMatch(/^reason: .+ \(and 1 more\)$/);
    expect(Object.keys(body.error.issues.fieldErrors).sort()).toEqual(["expiresInSec", "reason"]);
  });

  it("unknown procedure → 404", async () => {
    const res = await trpcQuery(t.url, "nope.nothing");
    expect(res.status).toBe(404);
    expect(res.body.error.data.code).toBe("NOT_FOUND");
  });

  it("body over 1 MB → 413", async () => {
    const res = await fetch(`${t.url}/trpc/auth.login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "a@b.c", password: "x".repeat(1024 * 1024 + 10) }),
    });
    expect(res.status).toBe(413);
  });

  it("unknown REST path → JSON 404", async () => {
    const res = await fetch(`${t.url}/api/nothing-here`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("an empty Host header on /trpc → 400 (tRPC cannot build the request's URL; it was a 500)", async () => {
    for (const head of ["GET /trpc/health.check HTTP/1.1", "POST /trpc/auth.me HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2"]) {
      // Written on a socket: HTTP clients fill in the Host header themselves.
      const answer = await new Promise<string>((resolve, reject) => {
        const { port } = new URL(t.url);
        const socket = connect(Number(port), "127.0.0.1", () => socket.end(`${head}\r\nHost: \r\nConnection: close\r\n\r\n${head.startsWith("POST") ? "{}" : ""}`));
        let text = "";
        socket.on("data", (chunk) => (text += chunk.toString("utf8")));
        socket.on("close", () => resolve(text));
        socket.on("error", reject);
      });
      expect(answer.split("\r\n")[0], head).toBe("HTTP/1.1 400 Bad Request");
      expect(answer, head).toContain('"message":"Invalid URL"');
    }
  });
});

describe("users (SuperAdmin)", () => {
  it("creates, lists, updates and refuses duplicates and self-demotion", async () => {
    const token = await t.login();
    const email = `new-${Date.now()}@switchboard.test`;
    const created = await trpcMutation(t.url, "users.create", { email, password: "long-enough-password", role: "ADMIN" }, bearer(token));
    expect(created.status).toBe(200);
    expect(created.body.result.data).toMatchObject({ email, role: "ADMIN", disabled: false });

    const duplicate = await trpcMutation(t.url, "users.create", { email, password: "long-enough-password", role: "USER" }, bearer(token));
    expect(duplicate.status).toBe(409);

    const weak = await trpcMutation(t.url, "users.create", { email: `w-${email}`, password: "short", role: "USER" }, bearer(token));
    expect(weak.status).toBe(400);
    expect(weak.body.error.data.zodError.fieldErrors.password[0]).toMatch(/12 characters/);

    const listed = await trpcQuery(t.url, "users.list", { search: email }, bearer(token));
    expect(listed.body.result.data.items.map((u: { email: string }) => u.email)).toEqual([email]);
    // The search is text: "_" and "%" are themselves, not any characters.
    const near = `new_${email.slice(4)}`;
    expect((await trpcMutation(t.url, "users.create", { email: near, password: "long-enough-password", role: "USER" }, bearer(token))).status).toBe(200);
    const exact = await trpcQuery(t.url, "users.list", { search: near }, bearer(token));
    expect(exact.body.result.data.items.map((u: { email: string }) => u.email)).toEqual([near]);
    expect((await trpcQuery(t.url, "users.list", { search: "%" }, bearer(token))).body.result.data.items).toEqual([]);

    const updated = await trpcMutation(t.url, "users.update", { id: created.body.result.data.id, role: "USER" }, bearer(token));
    expect(updated.body.result.data.role).toBe("USER");

    const me = (await trpcQuery(t.url, "auth.me", undefined, bearer(token))).body.result.data;
    const selfDemote = await trpcMutation(t.url, "users.update", { id: me.id, role: "USER" }, bearer(token));
    expect(selfDemote.status).toBe(400);

    const missing = await trpcMutation(t.url, "users.update", { id: "00000000-0000-4000-8000-000000000000", disabled: true }, bearer(token));
    expect(missing.status).toBe(404);
  });

  it("a role change takes effect at once: old tokens die, new sign-in carries the new role", async () => {
    const user = await t.userWithRole("ADMIN");
    await t.client(await t.login()).users.update.mutate({ id: user.id, role: "USER" });
    expect((await trpcQuery(t.url, "auth.me", undefined, bearer(user.token))).status).toBe(401);
    const fresh = await t.login(user.email, "a-long-enough-password");
    expect((await trpcQuery(t.url, "auth.me", undefined, bearer(fresh))).body.result.data.role).toBe("USER");
  });
});
