import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createKeyCache } from "./key-cache.ts";
import { createKeysService, type OwnerDirectory } from "./keys-service.ts";
import { createSpendLedger } from "./spend-ledger.ts";

export type { KeyGrant } from "./key-grant.ts";
export { keyRefusal } from "./key-grant.ts";
export { looksLikeApiKey } from "./key-secret.ts";
export type { KeysService, RateLimitInfo } from "./keys-service.ts";
export type { KeyChange } from "./key-cache.ts";

export function createKeys(deps: {
  prisma: PrismaClient;
  coordination: Coordination;
  owners: OwnerDirectory;
  log: (msg: string, err?: unknown) => void;
  resyncIntervalMs?: number;
}) {
  const { prisma, coordination, log } = deps;
  const cache = createKeyCache({ prisma, coordination, log, ...(deps.resyncIntervalMs !== undefined ? { resyncIntervalMs: deps.resyncIntervalMs } : {}) });
  const spend = createSpendLedger({
    coordination,
    log,
    loggedSpend: async (subject, from) => {
      const [kind, id] = [subject.slice(0, subject.indexOf(":")), subject.slice(subject.indexOf(":") + 1)];
      const who = kind === "user" ? { userId: id } : { keyId: id };
      const agg = await prisma.requestLog.aggregate({ where: { ...who, ...(from ? { createdAt: { gte: from } } : {}) }, _sum: { costUsd: true } });
      return agg._sum.costUsd ?? 0;
    },
  });
  return createKeysService({ prisma, owners: deps.owners, coordination, cache, spend, log });
}
