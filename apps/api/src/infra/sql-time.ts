/**
 * Times as the database stores them: `timestamp(3)` without a zone, holding UTC. A JS Date
 * goes in as its ISO text converted to UTC by the database itself, so the result does not
 * depend on the session's time zone.
 */
import { Prisma } from "../generated/prisma/client.ts";

export const utcTimestamp = (d: Date): Prisma.Sql => Prisma.sql`(${d.toISOString()}::timestamptz AT TIME ZONE 'UTC')`;
