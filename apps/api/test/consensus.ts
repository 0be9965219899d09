/** Helpers for consensus tests: read a consensus.stream subscription to its end. */
import type { TConsensusQueryInput, TConsensusStreamEvent } from "@switchboard/schema";
import type { SwitchboardClient } from "@switchboard/client";
import { collectEvents } from "./subscription.ts";

/**
 * Collects consensus.stream events until consensus_complete or error. `onEvent` sees each
 * event as it arrives (e.g. to let a held provider answer once the others have).
 */
export function collectConsensus(
  client: SwitchboardClient,
  input: TConsensusQueryInput,
  onEvent: (event: TConsensusStreamEvent, events: TConsensusStreamEvent[]) => void = () => {},
): Promise<TConsensusStreamEvent[]> {
  return collectEvents<TConsensusStreamEvent>(
    (handlers) => client.consensus.stream.subscribe(input, handlers),
    (event) => event.type === "consensus_complete" || event.type === "error",
    onEvent,
  );
}

/** A promise the test resolves when it wants: holds a fake provider's answer until then. */
export function gate(): { until: Promise<void>; open: () => void } {
  let open!: () => void;
  const until = new Promise<void>((resolve) => (open = resolve));
  return { until, open };
}

/** The user message and (for an aggregator call) the system prompt a fake upstream received. */
export const promptOf = (body: { messages?: Array<{ role: string; content: string }> }) => body.messages?.findLast((m) => m.role === "user")?.content ?? "";
export const systemOf = (body: { messages?: Array<{ role: string; content: string }> }) => body.messages?.find((m) => m.role === "system")?.content ?? "";

/**
 * The answers an aggregator's system prompt holds, read by the rule the prompt states: the
 * boundary code is taken from the instructions, and only marker lines carrying it count.
 */
export function delimitedAnswers(system: string): { code: string; answers: string[] } {
  const code = /Only lines carrying the boundary ([0-9a-f]+) start or end a response/.exec(system)?.[1];
  if (!code) throw new Error("no boundary code in the aggregator's instructions");
  const answers: string[] = [];
  const open = new RegExp(`^<response number="(\\d+)" boundary="${code}">$`);
  const close = `</response boundary="${code}">`;
  let current: string[] | null = null;
  for (const line of system.split("\n")) {
    if (current === null) {
      const start = open.exec(line);
      if (start) {
        if (Number(start[1]) !== answers.length + 1) throw new Error(`response ${start[1]} out of order`);
        current = [];
      }
    } else if (line === close) {
      answers.push(current.join("\n"));
      current = null;
    } else current.push(line);
  }
  if (current !== null) throw new Error("a response is not closed");
  return { code, answers };
}
