/**
 * What instances tell each other through coordination. Every message is validated on
 * receipt: a garbled or foreign payload on the channel is dropped, never applied.
 */
import { z } from "zod";
import { ZEmergencyStatus, type TEmergencyStatus } from "@switchboard/schema";

/** The current state, mirrored from PostgreSQL for operators and tools (redis-cli GET). */
export const STATE_KEY = "emergency:state";
/** Every change is published here; instances apply it if it is newer than what they hold. */
export const STATE_CHANNEL = "emergency:state";
/** Instances confirm here which version they hold after applying a change (infra/fleet-acks.ts). */
export const ACK_CHANNEL = "emergency:ack";

const ZStateMessage = z.object({ state: ZEmergencyStatus, origin: z.string() });

export type StateMessage = z.infer<typeof ZStateMessage>;

function parseJson<T>(schema: z.ZodType<T>, raw: string | null): T | null {
  if (raw === null) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export const encodeState = (state: TEmergencyStatus, origin: string): string => JSON.stringify({ state, origin });
export const parseStateMessage = (raw: string): StateMessage | null => parseJson(ZStateMessage, raw);
export const parseStoredState = (raw: string | null): TEmergencyStatus | null => parseJson(ZEmergencyStatus, raw);
