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
 * disable the last enabled SuperAdmin). Instances starting at once are made to meet on
 * PostgreSQL by a session holding the row they write (PGlite serves one connection at a
 * time): one recovers the account, the other starts all the same.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test/app.ts";
import { createTestDatabase, untilLockWaiters } from "../../test/database.ts";
import { captureLog, type LogLine } from "../../test/log-capture.ts";
import { bearer } from "../../test/http.ts";
import { deleteKeysWithPrefix, uniquePrefix } from "../../test/redis.ts";
import { verifyPassword } from "./auth/passwords.ts";
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
      dataDir,
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
      /**
       * Starts two instances at once (the previous one stopped first), resolved only once
       * `meanwhile` (given a session on the database, in a transaction) has returned and that
       * session has committed. Cluster mode only.
       */
      async startTogether(env: Record<string, string>, meanwhile: (holder: pg.Client) => Promise<void>): Promise<Array<{ t: TestApp; log: LogLine[] }>> {
        await running?.close();
        running = undefined;
        const holder = new pg.Client({ connectionString: databaseUrl! });
        await holder.connect();
        await holder.query("BEGIN");
        const starts = [0, 1].map(() => {
          const log = captureLog();
          const started = startTestApp({ mode, env: { DATA_DIR: dataDir, LOG_LEVEL: "info", ...env }, logDestination: log.sink, databaseUrl, redisKeyPrefix: prefix }).then((t) => {
            cleanups.push(() => t.close());
            return { t, log: log.lines };
          });
          started.catch(() => {});
          return started;
        });
        try {
          await meanwhile(holder);
        } finally {
          await holder.query("COMMIT");
          await holder.end();
        }
        return Promise.all(starts);
      },
      /** Runs a statement on the installation's database, no instance needed (cluster mode). */
      async sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
        const client = new pg.Client({ connectionString: databaseUrl! });
        await client.connect();
        try {
          return (await client.query<R>(text, values)).rows;
        } finally {
          await client.end();
        }
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
  const INFO = 30;
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

  it("a recovery whose credentials file cannot be written fails the start and leaves the account disabled; the next start recovers it", async () => {
    const install = await installation();
    const first = await install.start(NO_VARIABLES);
    const before = await install.generatedPassword();
    await disable(first.t, GENERATED_SUPERADMIN_EMAIL);
    await first.t.close();
    // The file's path taken by a directory: the new file cannot be put there.
    const credentialsPath = join(install.dataDir, "superadmin-credentials.txt");
    await rm(credentialsPath);
    await mkdir(join(credentialsPath, "in-the-way"), { recursive: true });

    const failure: unknown = await install.start(NO_VARIABLES).then(
      () => "started",
      (error: unknown) => error,
    );

    await rm(credentialsPath, { recursive: true });
    const { t, log } = await install.start(NO_VARIABLES);
    // The failed start left it disabled: this start found it so and recovered it.
    expect(messages(log, WARN)).toContainEqual(
      `no enabled SuperAdmin (1 disabled): re-enabled ${GENERATED_SUPERADMIN_EMAIL} as SuperAdmin (it was a disabled SUPERADMIN) with a new random password, and revoked its 0 API keys; read it from this file`,
    );
    const after = await install.generatedPassword();
    expect(after).not.toBe(before);
    expect((await t.client((await signIn(t, GENERATED_SUPERADMIN_EMAIL, after)).accessToken).auth.me.query()).role).toBe("SUPERADMIN");
    expect(await readdir(install.dataDir)).not.toContainEqual(expect.stringMatching(/\.tmp$/));
    expect(String(failure)).toContain(`could not write the SuperAdmin credentials file ${credentialsPath}`);
  });

  // Instances meeting at a held row: PostgreSQL only (PGlite serves one connection at a time),
  // so these are defined for the cluster run alone rather than skipped in the embedded one.
  if (mode === "cluster") {
    it("two instances starting at once re-enable the disabled generated account once; the credentials file is the winner's", async () => {
      const install = await installation();
      const first = await install.start(NO_VARIABLES);
      const before = await install.generatedPassword();
      const { id } = await disable(first.t, GENERATED_SUPERADMIN_EMAIL);

      const both = await install.startTogether(NO_VARIABLES, async (holder) => {
        // Both find no enabled SuperAdmin and wait to write the account's row: they re-enable it at once.
        await holder.query(`SELECT 1 FROM "User" WHERE "id" = $1 FOR UPDATE`, [id]);
        await untilLockWaiters(holder, 2);
      });
      const reEnabled = `no enabled SuperAdmin (1 disabled): re-enabled ${GENERATED_SUPERADMIN_EMAIL} as SuperAdmin (it was a disabled SUPERADMIN) with a new random password, and revoked its 0 API keys; read it from this file`;
      const lost = `${GENERATED_SUPERADMIN_EMAIL} was recovered by another instance starting at the same time: its credentials file is in that instance's DATA_DIR`;
      const outcomes = both.map(({ log }) => (messages(log, WARN).includes(reEnabled) ? "won" : messages(log, INFO).includes(lost) ? "lost" : "neither"));
      expect(outcomes.sort()).toEqual(["lost", "won"]);
      // The one file written is the one password that signs in, on either instance.
      const after = await install.generatedPassword();
      expect(after).not.toBe(before);
      for (const { t } of both) await signIn(t, GENERATED_SUPERADMIN_EMAIL, after);
    });

    /** Makes the database refuse, as a lock wait past its bound would, to mark rows of `table` revoked. */
    async function refuseRevocations(install: { sql(text: string): Promise<unknown> }, table: "ApiKey" | "Session") {
      await install.sql(`CREATE FUNCTION refuse_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused for the test' USING ERRCODE = 'lock_not_available'; END $$`);
      await install.sql(`CREATE TRIGGER refuse_revocation BEFORE UPDATE ON "${table}" FOR EACH ROW
        WHEN (OLD."revokedAt" IS NULL AND NEW."revokedAt" IS NOT NULL) EXECUTE FUNCTION refuse_revocation()`);
      return () => install.sql(`DROP TRIGGER refuse_revocation ON "${table}"`);
    }

    it("a recovery that fails at revoking the keys changes nothing, so the next start recovers the account and its keys stay refused", async () => {
      const install = await installation();
      const first = await install.start(NO_VARIABLES);
      const before = await install.generatedPassword();
      const { accessToken } = await signIn(first.t, GENERATED_SUPERADMIN_EMAIL, before);
      const { key } = await first.t.client(accessToken).keys.create.mutate({ name: "made before the disable" });
      await disable(first.t, GENERATED_SUPERADMIN_EMAIL);
      const allowRevocations = await refuseRevocations(install, "ApiKey");

      await expect(install.start(NO_VARIABLES)).rejects.toThrow();
      // Still disabled: the recovery is still to be done. The file was written before the
      // refusal rolled the change back, so it holds a password that was never set.
      const [row] = await install.sql<{ disabled: boolean; passwordHash: string }>(`SELECT "disabled", "passwordHash" FROM "User" WHERE "email" = $1`, [GENERATED_SUPERADMIN_EMAIL]);
      expect(row!.disabled).toBe(true);
      expect(await verifyPassword(row!.passwordHash, before)).toBe(true);

      await allowRevocations();
      const { t } = await install.start(NO_VARIABLES);
      expect(await modelsWith(t, key)).toBe(401);
      const after = await install.generatedPassword();
      expect(after).not.toBe(before);
      expect((await t.client((await signIn(t, GENERATED_SUPERADMIN_EMAIL, after)).accessToken).auth.me.query()).role).toBe("SUPERADMIN");
    });

    it("with the variables, a start that fails at ending the sessions keeps the old password, and the next start sets the new one", async () => {
      const install = await installation();
      const email = "root@switchboard.test";
      const first = await install.start({ SUPERADMIN_EMAIL: email, SUPERADMIN_PASSWORD: "first-password-long-enough" });
      const { refreshToken } = await signIn(first.t, email, "first-password-long-enough");
      const allowRevocations = await refuseRevocations(install, "Session");

      await expect(install.start({ SUPERADMIN_EMAIL: email, SUPERADMIN_PASSWORD: "second-password-long-enough" })).rejects.toThrow();
      const [row] = await install.sql<{ passwordHash: string }>(`SELECT "passwordHash" FROM "User" WHERE "email" = $1`, [email]);
      expect(await verifyPassword(row!.passwordHash, "first-password-long-enough")).toBe(true);

      await allowRevocations();
      const { t } = await install.start({ SUPERADMIN_EMAIL: email, SUPERADMIN_PASSWORD: "second-password-long-enough" });
      await expect(t.client().auth.refresh.mutate({ refreshToken })).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
      await signIn(t, email, "second-password-long-enough");
      await expect(signIn(t, email, "first-password-long-enough")).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    });

    it("two instances starting at once create the generated account once; the one that loses on its email starts all the same", async () => {
      const install = await installation();
      const ops = { email: "ops@switchboard.test", password: "ops-password-long-enough" };
      const first = await install.start({ SUPERADMIN_EMAIL: ops.email, SUPERADMIN_PASSWORD: ops.password });
      await disable(first.t, ops.email);

      const both = await install.startTogether(NO_VARIABLES, async (holder) => {
        // A row of that email, not yet committed: both creates wait on its unique key. Rolled
        // back, one create lands and the other finds the email taken.
        await holder.query(`INSERT INTO "User" ("id", "email", "passwordHash", "role", "updatedAt") VALUES (gen_random_uuid()::text, $1, 'held', 'USER', now())`, [GENERATED_SUPERADMIN_EMAIL]);
        await untilLockWaiters(holder, 2);
        await holder.query("ROLLBACK");
      });
      const created = "no enabled SuperAdmin (1 disabled): created a SuperAdmin with a random password; read it from this file";
      const lost = `${GENERATED_SUPERADMIN_EMAIL} was recovered by another instance starting at the same time: its credentials file is in that instance's DATA_DIR`;
      const outcomes = both.map(({ log }) => (messages(log, WARN).includes(created) ? "won" : messages(log, INFO).includes(lost) ? "lost" : "neither"));
      expect(outcomes.sort()).toEqual(["lost", "won"]);
      const password = await install.generatedPassword();
      for (const { t } of both) expect((await t.client((await signIn(t, GENERATED_SUPERADMIN_EMAIL, password)).accessToken).auth.me.query()).role).toBe("SUPERADMIN");
    });

    it("two instances starting at once with the variables, the account not there yet, both start; one creates it", async () => {
      const install = await installation();
      const root = { email: "root@switchboard.test", password: "root-password-long-enough" };
      const env = { SUPERADMIN_EMAIL: root.email, SUPERADMIN_PASSWORD: root.password };
      // A first start on the database with another account, so the schema is there to hold a row in.
      await install.start({ SUPERADMIN_EMAIL: "ops@switchboard.test", SUPERADMIN_PASSWORD: "ops-password-long-enough" });
      const both = await install.startTogether(env, async (holder) => {
        await holder.query(`INSERT INTO "User" ("id", "email", "passwordHash", "role", "updatedAt") VALUES (gen_random_uuid()::text, $1, 'held', 'USER', now())`, [root.email]);
        await untilLockWaiters(holder, 2);
        await holder.query("ROLLBACK");
      });
      const created = "created SuperAdmin from SUPERADMIN_EMAIL";
      const lost = "the SUPERADMIN_EMAIL account was created by another instance starting at the same time";
      const outcomes = both.map(({ log }) => (messages(log, INFO).includes(created) ? "won" : messages(log, INFO).includes(lost) ? "lost" : "neither"));
      expect(outcomes.sort()).toEqual(["lost", "won"]);
      for (const { t } of both) await signIn(t, root.email, root.password);
    });
  }

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
