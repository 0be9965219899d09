/**
 * The emergency stop's side of coordination: publishing states, acknowledging them,
 * counting live instances and keeping the Redis mirror of the state. Nothing here decides
 * what the state is; the service does (PostgreSQL is the truth).
 */
import type { TEmergencyChangeResult, TEmergencyStatus } from "@switchboard/schema";
import type { Coordination } from "../../infra/coordination/port.ts";
import { createFleetAcks } from "../../infra/fleet-acks.ts";
import { ACK_CHANNEL, STATE_CHANNEL, STATE_KEY, encodeState, parseStateMessage, parseStoredState, type StateMessage } from "./messages.ts";

export type Proof = Omit<TEmergencyChangeResult, keyof TEmergencyStatus | "changed">;

export interface FleetBusOptions {
  coordination: Coordination;
  instanceId: string;
  ackWaitMs: number;
  onMalformed(raw: string): void;
}

export function createFleetBus(opts: FleetBusOptions) {
  const { coordination, instanceId } = opts;
  const acks = createFleetAcks({ coordination, instanceId, ackChannel: ACK_CHANNEL, ackWaitMs: opts.ackWaitMs });

  /** Subscribes to states and acks; `onState` runs synchronously as each message arrives. */
  async function listen(onState: (message: StateMessage) => void): Promise<Array<() => Promise<void>>> {
    const offState = await coordination.subscribe(STATE_CHANNEL, (raw) => {
      const message = parseStateMessage(raw);
      if (message) onState(message);
      else opts.onMalformed(raw);
    });
    const offAck = await acks.listen();
    return [offState, offAck];
  }

  /** Tells the fleet which version this instance now holds. Best effort while degraded. */
  const acknowledge = acks.acknowledge;

  /** Publishes a state and mirrors it; rejects when coordination is unreachable. */
  async function publish(state: TEmergencyStatus): Promise<void> {
    // Both go out on the same connection, publish first: it is what instances wait for.
    await Promise.all([coordination.publish(STATE_CHANNEL, encodeState(state, instanceId)), coordination.set(STATE_KEY, JSON.stringify(state))]);
  }

  /**
   * Publishes a state and waits, at most ackWaitMs, until every live instance acknowledged
   * it. `published` is false when coordination refused the publish (Redis unreachable).
   */
  function propagate(state: TEmergencyStatus): Promise<{ proof: Proof; published: boolean }> {
    return acks.propagate(state.version, () => publish(state));
  }

  /** Rewrites the Redis mirror when it is missing or stale (after a flush or restart). */
  async function repairMirror(state: TEmergencyStatus): Promise<void> {
    const mirrored = parseStoredState(await coordination.get(STATE_KEY));
    if (mirrored?.version !== state.version) await coordination.set(STATE_KEY, JSON.stringify(state));
  }

  return { listen, acknowledge, publish, propagate, repairMirror };
}

export type FleetBus = ReturnType<typeof createFleetBus>;
