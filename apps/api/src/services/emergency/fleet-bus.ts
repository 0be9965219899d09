/**
 * The emergency stop's side of coordination: publishing states, acknowledging them,
 * counting live instances and keeping the Redis mirror of the state. Nothing here decides
 * what the state is; the service does (PostgreSQL is the truth).
 */
import type { TEmergencyChangeResult, TEmergencyStatus } from "@switchboard/schema";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createAckTracker } from "./ack-tracker.ts";
import { ACK_CHANNEL, STATE_CHANNEL, STATE_KEY, encodeAck, encodeState, parseAck, parseStateMessage, parseStoredState, type StateMessage } from "./messages.ts";

export type Proof = Omit<TEmergencyChangeResult, keyof TEmergencyStatus | "changed">;

export interface FleetBusOptions {
  coordination: Coordination;
  instanceId: string;
  ackWaitMs: number;
  onMalformed(raw: string): void;
}

export function createFleetBus(opts: FleetBusOptions) {
  const { coordination, instanceId } = opts;
  const acks = createAckTracker();
  let lastLiveInstances: string[] = [instanceId];

  /** Subscribes to states and acks; `onState` runs synchronously as each message arrives. */
  async function listen(onState: (message: StateMessage) => void): Promise<Array<() => Promise<void>>> {
    const offState = await coordination.subscribe(STATE_CHANNEL, (raw) => {
      const message = parseStateMessage(raw);
      if (message) onState(message);
      else opts.onMalformed(raw);
    });
    const offAck = await coordination.subscribe(ACK_CHANNEL, (raw) => {
      const ack = parseAck(raw);
      if (ack) acks.record(ack.version, ack.instanceId);
    });
    return [offState, offAck];
  }

  /** Tells the fleet which version this instance now holds. Best effort while degraded. */
  function acknowledge(version: number): void {
    coordination.publish(ACK_CHANNEL, encodeAck({ version, instanceId })).catch(() => {
      // Degraded: the sender reports us as pending, which is the truth.
    });
  }

  /** Publishes a state and mirrors it; rejects when coordination is unreachable. */
  async function publish(state: TEmergencyStatus): Promise<void> {
    // Both go out on the same connection, publish first: it is what instances wait for.
    await Promise.all([coordination.publish(STATE_CHANNEL, encodeState(state, instanceId)), coordination.set(STATE_KEY, JSON.stringify(state))]);
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
   * Publishes a state and waits, at most ackWaitMs, until every live instance acknowledged
   * it. `published` is false when coordination refused the publish (Redis unreachable).
   */
  async function propagate(state: TEmergencyStatus): Promise<{ proof: Proof; published: boolean }> {
    const started = performance.now();
    const wait = acks.expect(state.version, instanceId);
    try {
      const [published, live] = await Promise.all([publish(state).then(() => true, () => false), liveInstanceIds()]);
      if (published) await wait.until(live, started + opts.ackWaitMs);
      const fleet = new Set([...live, ...wait.acked, instanceId]);
      const pending = [...fleet].filter((id) => !wait.acked.has(id));
      const propagation = !published ? "local" : pending.length === 0 ? "confirmed" : "partial";
      return { published, proof: { acknowledgedBy: wait.acked.size, liveInstances: fleet.size, pendingInstances: pending, propagation } };
    } finally {
      wait.dispose();
    }
  }

  /** Rewrites the Redis mirror when it is missing or stale (after a flush or restart). */
  async function repairMirror(state: TEmergencyStatus): Promise<void> {
    const mirrored = parseStoredState(await coordination.get(STATE_KEY));
    if (mirrored?.version !== state.version) await coordination.set(STATE_KEY, JSON.stringify(state));
  }

  return { listen, acknowledge, publish, propagate, repairMirror };
}

export type FleetBus = ReturnType<typeof createFleetBus>;
