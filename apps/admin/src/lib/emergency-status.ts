import type { TEmergencyStatus } from "@switchboard/schema";
import { useSyncExternalStore } from "react";
import { trpc } from "./trpc.ts";

/**
 * The fleet's emergency state, live: one `emergency.watch` SSE stream for the whole app
 * (banner and Emergency page share it), opened while anything is listening. EventSource
 * reconnects by itself; `connected` says whether the stream is up right now.
 */
export interface EmergencySnapshot {
  status: TEmergencyStatus | null;
  connected: boolean;
}

let snapshot: EmergencySnapshot = { status: null, connected: false };
const listeners = new Set<() => void>();
let subscription: { unsubscribe(): void } | null = null;

function publish(next: Partial<EmergencySnapshot>): void {
  snapshot = { ...snapshot, ...next };
  for (const listener of listeners) listener();
}

/** Takes a state the app learned some other way (a freeze answer) if it is newer. */
export function offerEmergencyStatus(status: TEmergencyStatus): void {
  if (!snapshot.status || status.version >= snapshot.status.version) publish({ status });
}

/** Wait before opening the stream again after the server ended it. */
const RESUBSCRIBE_MS = 2_000;
let resubscribeTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * The server ends the stream with a last error event when it shuts down (its peers take
 * over) or when an anonymous stream reaches its maximum duration: open it again shortly.
 */
function open(): void {
  subscription = trpc.emergency.watch.subscribe(undefined, {
    onData: (status) => publish({ status, connected: true }),
    onConnectionStateChange: (state) => publish({ connected: state.state === "pending" }),
    onError: () => {
      publish({ connected: false });
      subscription = null;
      resubscribeTimer = setTimeout(() => {
        if (listeners.size > 0 && !subscription) open();
      }, RESUBSCRIBE_MS);
    },
  });
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!subscription) open();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      clearTimeout(resubscribeTimer);
      subscription?.unsubscribe();
      subscription = null;
      publish({ connected: false });
    }
  };
}

export function useEmergencyStatus(): EmergencySnapshot {
  return useSyncExternalStore(subscribe, () => snapshot);
}

export const SCOPE_LABELS: Record<string, string> = {
  global: "Everything",
  chat: "Chat and /v1",
  consensus: "Consensus",
};

/** "Everything", "Chat and /v1", "Provider openai"… */
export function scopeLabel(scope: string): string {
  return SCOPE_LABELS[scope] ?? (scope.startsWith("provider:") ? `Provider ${scope.slice("provider:".length)}` : scope);
}

/** One sentence for what the current freeze stops. */
export function frozenHeadline(status: TEmergencyStatus): string {
  if (status.scope === "global") return "Switchboard is frozen";
  if (status.scope === "chat") return "Chat is frozen";
  if (status.scope === "consensus") return "Consensus is frozen";
  return `${scopeLabel(status.scope)} is out of every fallback chain`;
}
