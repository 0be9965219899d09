/**
 * Audit records (configuration changes, cache purges) name the API key an act came with by
 * its current name, read once per page: a key may be renamed, and a deleted one has none.
 */
import type { PrismaClient } from "../generated/prisma/client.ts";

export async function keyNamesOf(prisma: PrismaClient, rows: ReadonlyArray<{ actorKeyId: string | null }>): Promise<Map<string, string>> {
  const ids = [...new Set(rows.flatMap((r) => (r.actorKeyId ? [r.actorKeyId] : [])))];
  if (ids.length === 0) return new Map();
  const keys = await prisma.apiKey.findMany({ where: { id: { in: ids } }, select: { id: true, name: true } });
  return new Map(keys.map((k) => [k.id, k.name]));
}
