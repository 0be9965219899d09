/**
 * How much configuration the gateway holds: never more providers or routes than one
 * configuration document can state (CONFIG_DOCUMENT_LIMITS), whichever way they were made,
 * so that `config.export` always gives a document `config.import` takes back. Counted as
 * the export counts them: providers but the offline template, routes with a target.
 *
 * Counted inside the change's transaction, after the version row is locked (config-store):
 * two changes at once serialise there, so the second counts what the first made and neither
 * overshoots.
 */
import { CONFIG_DOCUMENT_LIMITS } from "@switchboard/schema";
import type { Prisma } from "../../generated/prisma/client.ts";
import { AppError } from "../errors.ts";

export interface Holdings {
  providers: number;
  routes: number;
}

export async function holdingsIn(tx: Prisma.TransactionClient): Promise<Holdings> {
  const providers = await tx.provider.count({ where: { kind: { not: "template" } } });
  const routes = (await tx.modelRoute.findMany({ select: { targets: true } })).filter((r) => Array.isArray(r.targets) && r.targets.length > 0).length;
  return { providers, routes };
}

/**
 * Refuses a change that takes the providers or routes past the limit. Only growth is
 * refused: a gateway already past it (filled before the limit held) can still be edited and
 * trimmed.
 */
export function refuseGrowthPastLimits(before: Holdings, after: Holdings): void {
  const over = (
    [
      ["providers", CONFIG_DOCUMENT_LIMITS.maxProviders],
      ["routes", CONFIG_DOCUMENT_LIMITS.maxModels],
    ] as const
  ).find(([what, limit]) => after[what] > limit && after[what] > before[what]);
  if (!over) return;
  const [what, limit] = over;
  throw new AppError(
    "CONFLICT",
    `The gateway holds at most ${limit} ${what}, the most one configuration document states (so that an export can always be applied again); this would make ${after[what]}: delete ${what === "providers" ? "a provider" : "a route"} no longer used first`,
    { details: { field: what === "providers" ? "providers" : "models", limit } },
  );
}
