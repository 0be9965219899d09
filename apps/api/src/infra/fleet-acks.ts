/**
 * "Publish a change, then wait until every live instance says it applied it": the
 * acknowledgement half of any fleet-wide change (emergency stops, gateway configuration).
 * Instances acknowledge versions on `ackChannel`; live instances come from heartbeats.
 */
import { createAckTracker } from "./ack-tracker.ts";
import type { Coordination } from "./coordination/port.ts";

/** Proof of propagation, as change procedures answer it. */
export interface PropagationProof {
  /** Instances (this one included) that applied the change before the answer. */
  acknowledgedBy: number;
  /** Instances heartbeating into coordination. */
  liveInstances: number;
  /** Live instances that had not acknowledged when the wait ended. */
  pendingInstances: string[];
  /** confirmed: all acknowledged; partial: some did not in time; local: coordination unreachable. */
  propagation: "confirmed" | "partial" | "local";
}

const ZAck = (raw: string): { version: number; instanceId: string } | null => {
  try {
    const value = JSON.parse(raw) as { version?: unknown; instanceId?: unknown };
    return Number.isInteger(value.version) && (value.version as number) >= 0 && typeof value.instanceId === "string" && value.instanceId !== ""
      ? { version: value.version as number, instanceId: value.instanceId }
      : null;
  } catch {
    return null;
  }
};

export function createFleetAcks(opts: { coordination: Coordination; instanceId: string; ackChannel: string; ackWaitMs: number }) {
  const { coordination, instanceId } = opts;
  const acks = createAckTracker();
  let lastLiveInstances: string[] = [instanceId];

  /** Subscribes to acknowledgements; returns the unsubscribe. */
  function listen(): Promise<() => Promise<void>> {
    return coordination.subscribe(opts.ackChannel, (raw) => {
      const ack = ZAck(raw);
      if (ack) acks.record(ack.version, ack.instanceId);
    });
  }

  /** Tells the fleet which version this instance now holds. Best effort while degraded. */
  function acknowledge(version: number): void {
    coordination.publish(opts.ackChannel, JSON.stringify({ version, instanceId })).catch(() => {
      // Degraded: the sender reports us as pending, which is the truth.
    });
  }

  async function liveInstanceIds(): Promise<string[]> {
    try {
      lastLiveInstances = (await coordination.liveInstances()).map((i) => i.id);
    } catch {
      // Degraded: report the last known fleet rather than nothing.
    }
    return lastLiveInstances;
  }

  /**
   * Runs `publish` and waits, at most ackWaitMs, until every live instance acknowledged
   * `version`. `published` is false when the publish failed (coordination unreachable).
   */
  async function propagate(version: number, publish: () => Promise<void>): Promise<{ proof: PropagationProof; published: boolean }> {
    const started = performance.now();
    const wait = acks.expect(version, instanceId);
    try {
      const [published, live] = await Promise.all([publish().then(() => true, () => false), liveInstanceIds()]);
      if (published) await wait.until(live, started + opts.ackWaitMs);
      const fleet = new Set([...live, ...wait.acked, instanceId]);
      const pending = [...fleet].filter((id) => !wait.acked.has(id));
      const propagation = !published ? "local" : pending.length === 0 ? "confirmed" : "partial";
      return { published, proof: { acknowledgedBy: wait.acked.size, liveInstances: fleet.size, pendingInstances: pending, propagation } };
    } finally {
      wait.dispose();
    }
  }

  return { listen, acknowledge, propagate };
}

export type FleetAcks = ReturnType<typeof createFleetAcks>;
