/**
 * Instance snapshots in coordination (Redis in cluster mode):
 *   metrics:snap:<instanceId>   the instance's latest cumulative snapshot, expiring
 *                               SNAPSHOT_RETENTION_MS after its last write
 *   metrics:roster:<utc day>    hash whose fields are the ids that wrote that day
 * Readers take today's and yesterday's rosters, which between them name every snapshot
 * that can still exist, and fetch those. The day rosters keep the index bounded without a
 * delete-field primitive: a roster two days old names only expired snapshots and is
 * deleted whole.
 */
import type { Coordination } from "../../infra/coordination/port.ts";
import { parseSnapshot, type InstanceSnapshot } from "./snapshot.ts";

/** A dead instance's last figures stay in the cluster totals this long. */
export const SNAPSHOT_RETENTION_MS = 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const snapshotKey = (id: string) => `metrics:snap:${id}`;
const rosterKey = (day: number) => `metrics:roster:${day}`;

export interface ClusterStore {
  write(snapshot: InstanceSnapshot): Promise<void>;
  readAll(): Promise<InstanceSnapshot[]>;
}

export function createClusterStore(coordination: Coordination, now: () => number = Date.now): ClusterStore {
  let prunedDay = -1;

  return {
    async write(snapshot) {
      const day = Math.floor(now() / DAY_MS);
      await coordination.set(snapshotKey(snapshot.id), JSON.stringify(snapshot), { ttlMs: SNAPSHOT_RETENTION_MS });
      // Adding 0 creates the field when missing: an idempotent "add to set".
      await coordination.hincrByFloat(rosterKey(day), snapshot.id, 0);
      if (prunedDay !== day) {
        await coordination.del(rosterKey(day - 2));
        prunedDay = day;
      }
    },

    async readAll() {
      const day = Math.floor(now() / DAY_MS);
      const rosters = await Promise.all([coordination.hgetall(rosterKey(day)), coordination.hgetall(rosterKey(day - 1))]);
      const ids = [...new Set(rosters.flatMap((r) => Object.keys(r)))];
      const raw = await Promise.all(ids.map((id) => coordination.get(snapshotKey(id))));
      return raw.map(parseSnapshot).filter((s): s is InstanceSnapshot => s !== null);
    },
  };
}
