/**
 * A call no price covers costs 0 in the request log, so a budget never counts it. When such
 * a call runs under a budget, the operator is told once per provider and model, in the log,
 * what to price; calls without a budget stay quiet (nothing is at stake).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../../test/app.ts";
import { captureLog } from "../../../test/log-capture.ts";

const log = captureLog();
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ mode: "embedded", env: { LOG_LEVEL: "warn" }, logDestination: log.sink, appOptions: { requestLogFlushMs: 50 } });
});
afterAll(async () => t?.close());

const unpricedWarnings = () => log.lines.filter((l) => String(l.msg).includes("have no price"));

/** Waits until the request log holds `count` rows of `userId` (its rows are recorded at the response's end). */
async function rowsOf(userId: string, count: number) {
  const root = t.client(await t.login());
  await expect.poll(async () => (await root.logs.list.query({ userId, limit: 100 })).items.length).toBe(count);
}

it("warns once per provider and model when a budgeted call has no price, and not for unbudgeted calls", async () => {
  const root = t.client(await t.login());
  const free = await t.userWithRole("USER");
  await t.client(free.token).chat.send.mutate({ message: "hello" });
  await rowsOf(free.id, 1);
  expect(unpricedWarnings()).toEqual([]);

  const budgeted = await t.userWithRole("USER");
  await root.users.update.mutate({ id: budgeted.id, budgetUsd: 5, budgetPeriod: "month" });
  const answer = await t.client(budgeted.token).chat.send.mutate({ message: "hello" });
  await t.client(budgeted.token).chat.send.mutate({ message: "hello again" });
  await rowsOf(budgeted.id, 2);

  const warnings = unpricedWarnings();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatchObject({ level: 40, component: "request-log" });
  expect(String(warnings[0]!.msg)).toContain(`provider "${answer.provider}", model "${answer.model}"`);
});
