import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createKeyCache } from "./key-cache.ts";
import { createKeysService, type OwnerDirectory } from "./keys-service.ts";
import type { LoggedSpend } from "./logged-spend.ts";
import { createSpendLedger } from "./spend-ledger.ts";
import { createTagBudgets } from "./tag-budgets.ts";

export type { KeyAccess, KeyGrant } from "./key-grant.ts";
export { keyRefusal } from "./key-grant.ts";
export { looksLikeApiKey } from "./key-secret.ts";
export { createLoggedSpend, type LoggedSpend } from "./logged-spend.ts";
export { userSubject } from "./spend-ledger.ts";
export type { KeysService, RateLimitInfo } from "./keys-service.ts";
export { SESSION_ENDED } from "./keys-service.ts";
export type { KeyChange } from "./key-cache.ts";

export function createKeys(deps: {
  prisma: PrismaClient;
  coordination: Coordination;
  owners: OwnerDirectory;
  /** What callers spent as the database has it (shared with the users service). */
  logged: LoggedSpend;
  log: (msg: string, err?: unknown) => void;
  resyncIntervalMs?: number;
}) {
  const { prisma, coordination, log, logged } = deps;
  const cache = createKeyCache({ prisma, coordination, log, ...(deps.resyncIntervalMs !== undefined ? { resyncIntervalMs: deps.resyncIntervalMs } : {}) });
  const spend = createSpendLedger({
    coordination,
    log,
    loggedSpend: logged.of,
    costliestLogged: logged.costliestByHour,
  });
  const tagBudgets = createTagBudgets({ prisma, coordination, spend, logged, log });
  return createKeysService({ prisma, owners: deps.owners, coordination, cache, spend, logged, tagBudgets, log });
}
