/**
 * Start-up recovery of the SuperAdmin, on PostgreSQL + Redis and on the embedded database:
 * a start leaves an enabled SuperAdmin to sign in with. A disabled SuperAdmin does not count.
 * Without SUPERADMIN_EMAIL/PASSWORD the generated account is created, or re-enabled when it
 * is the one disabled (its API keys revoked: no one chose to let them act again), with a new
 * password in the credentials file and a log line saying so; an enabled account is never
 * changed without the variables. With them, the configured account is brought in line (env
 * is the source of truth), each change named in the log, its keys kept, and a password set
 * from the environment ends the sessions from before, as a reset does. Real servers restarted
 * on the same database; the disabling happens straight in the database (the API refuses to
 * disable the last enabled SuperAdmin).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { createTestDatabase } from "../../test/database.ts";
import { captureLog, type LogLine } from "../../test/log-capture.ts";
import { bearer } from "../../test/http.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../test/redis.ts";
import { GENERATED_SUPERADMIN_EMAIL } from "./bootstrap.ts";

const NO_VARIABLES = { SUPERADMIN_EMAIL: "", SUPERADMIN_PASSWORD: "" };

describe.each(["cluster", "embedded"] as const)("start-up SuperAdmin recovery (%s)", (mode) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Starts over the same data each time (database and DATA_DIR), as a restart does. */
  async function installation() {
    const dataDir = await mkdtemp(join(tmpdir(), "switchboard-bootstrap-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    let databaseUrl: string | undefined;
    const prefix = uniquePrefix("bootstrap");
    if (mode === "cluster") {
      const database = await createTestDatabase();
      databaseUrl = database.url;
      cleanups.push(async () => {
        await database.drop();
        await deleteKeysWithPrefix(prefix);
      });
    }
    let running: TestApp | undefined;
    cleanups.push(async () => running?.close());
    return {
      /** Starts an instance (the previous one stopped first) and returns it with its log lines. */
      async start(env: Record<string, string>): Promise<{ t: TestApp; log: LogLine[] }> {
        await running?.close();
        running = undefined;
        const log = captureLog();
        running = await startTestApp({
          mode,
          env: { DATA_DIR: dataDir, LOG_LEVEL: "info", ...env },
          logDestination: log.sink,
          ...(databaseUrl ? { databaseUrl, redisKeyPrefix: prefix } : {}),
        });
        return { t: running, log: log.lines };
      },
      /** The generated credentials file's password. */
      async generatedPassword(): Promise<string> {
        const text = await readFile(join(dataDir, "superadmin-credentials.txt"), "utf8");
        expect(text).toContain(`email: ${GENERATED_SUPERADMIN_EMAIL}\n`);
        return /password: (\S+)/.exec(text)![1]!;
      },
    };
  }

  const signIn = (t: TestApp, email: string, password: string) => t.client().auth.login.mutate({ email, password });
  const disable = (t: TestApp, email: string) => t.app.deps.db.prisma.user.update({ where: { email }, data: { disabled: true } });
  const messages = (log: LogLine[], level: number) => log.filter((l) => l["level"] === level).map((l) => String(l["msg"]));
  const modelsWith = async (t: TestApp, key: string) => (await fetch(`${t.url}/v1/models`, { headers: bearer(key) })).status;
  const WARN = 40;
  const ERROR = 50;

  it("without the variables, the generated SuperAdmin, disabled, is re-enabled at the next start with a new password", async () => {
    const install = await installation();
    const first = await install.start(NO_VARIABLES);
    const before = await install.generatedPassword();
    const { refreshToken, accessToken: firstToken } = await signIn(first.t, GENERATED_SUPERADMIN_EMAIL, before);
    const keys = [];
    for (const name of ["ci", "alerts"]) keys.push((await first.t.client(firstToken).keys.create.mutate({ name })).key);
    expect(await modelsWith(first.t, keys[0]!)).toBe(200);
    await disable(first.t, GENERATED_SUPERADMIN_EMAIL);

    const { t, log } = await install.start(NO_VARIABLES);
    // Keys made before the disable (perhaps its reason) do not act again, now as a SuperAdmin.
    for (const key of keys) expect(await modelsWith(t, key)).toBe(401);
    const after = await install.generatedPassword();
    expect(after).not.toBe(before);
    const { accessToken } = await signIn(t, GENERATED_SUPERADMIN_EMAIL, after);
    expect((await t.client(accessToken).users.list.query({})).items.length).toBeGreaterThan(0);
    await expect(signIn(t, GENERATED_SUPERADMIN_EMAIL, before)).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    await expect(t.client().auth.refresh.mutate({ refreshToken })).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    expect(messages(log, WARN)).toContainEqual(
      `no enabled SuperAdmin (1 disabled): re-enabled ${GENERATED_SUPERADMIN_EMAIL} as SuperAdmin (it was a disabled SUPERADMIN) with a new random password, and revoked its 2 API keys; read it from this file`,
    );

    // Recovered, the next start changes nothing.
    const again = await install.start(NO_VARIABLES);
    expect(await install.generatedPassword()).toBe(after);
    await signIn(again.t, GENERATED_SUPERADMIN_EMAIL, after);
  });

  it("without the variables, when every SuperAdmin is disabled, one is created; the disabled one stays disabled", async () => {
    const install = await installation();
    const ops = { email: "ops@switchboard.test", password: "ops-password-long-enough" };
    const first = await install.start({ SUPERADMIN_EMAIL: ops.email, SUPERADMIN_PASSWORD: ops.password });
    await disable(first.t, ops.email);

    const { t, log } = await install.start(NO_VARIABLES);
    const { accessToken } = await signIn(t, GENERATED_SUPERADMIN_EMAIL, await install.generatedPassword());
    expect((await t.client(accessToken).auth.me.query()).role).toBe("SUPERADMIN");
    await expect(signIn(t, ops.email, ops.password)).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    expect(messages(log, WARN)).toContainEqual("no enabled SuperAdmin (1 disabled): created a SuperAdmin with a random password; read it from this file");
  });

  it("without the variables, an enabled generated account of another role is left as it is, with an error line", async () => {
    const install = await installation();
    const first = await install.start(NO_VARIABLES);
    const password = await install.generatedPassword();
    const generated = first.t.client((await signIn(first.t, GENERATED_SUPERADMIN_EMAIL, password)).accessToken);
    const other = { email: "other@switchboard.test", password: "other-password-long-enough" };
    await generated.users.create.mutate({ ...other, role: "SUPERADMIN" });
    const otherClient = first.t.client((await signIn(first.t, other.email, other.password)).accessToken);
    const { id } = await generated.auth.me.query();
    await otherClient.users.update.mutate({ id, role: "ADMIN" });
    await disable(first.t, other.email);

    const { t, log } = await install.start(NO_VARIABLES);
    const { accessToken } = await signIn(t, GENERATED_SUPERADMIN_EMAIL, password);
    expect((await t.client(accessToken).auth.me.query()).role).toBe("ADMIN");
    expect(await install.generatedPassword()).toBe(password);
    expect(messages(log, ERROR)).toContainEqual(
      `no enabled SuperAdmin, and ${GENERATED_SUPERADMIN_EMAIL} is an enabled ADMIN account, left as it is: set SUPERADMIN_EMAIL and SUPERADMIN_PASSWORD to recover a SuperAdmin`,
    );
  });

  it("with the variables, the configured account is re-enabled with the configured password, the sessions from before end and its keys are kept", async () => {
    const install = await installation();
    const email = "root@switchboard.test";
    const first = await install.start({ SUPERADMIN_EMAIL: email, SUPERADMIN_PASSWORD: "first-password-long-enough" });
    const { refreshToken, accessToken: firstToken } = await signIn(first.t, email, "first-password-long-enough");
    const { key } = await first.t.client(firstToken).keys.create.mutate({ name: "ci" });
    await disable(first.t, email);

    const { t, log } = await install.start({ SUPERADMIN_EMAIL: email, SUPERADMIN_PASSWORD: "second-password-long-enough" });
    // The operator chose this account: its keys are kept, as an enable through users.update keeps them.
    expect(await modelsWith(t, key)).toBe(200);
    const { accessToken } = await signIn(t, email, "second-password-long-enough");
    expect((await t.client(accessToken).auth.me.query()).role).toBe("SUPERADMIN");
    await expect(signIn(t, email, "first-password-long-enough")).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    await expect(t.client().auth.refresh.mutate({ refreshToken })).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    expect(messages(log, WARN)).toContainEqual(
      "updated the SUPERADMIN_EMAIL account to match SUPERADMIN_EMAIL/SUPERADMIN_PASSWORD: re-enabled, password set to SUPERADMIN_PASSWORD",
    );
  });
});
