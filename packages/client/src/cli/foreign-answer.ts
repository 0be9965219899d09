/**
 * The CLI's fetch. An answer that is not Switchboard's — a proxy's or an ingress's HTML error
 * page, such as a 413 from its own body limit — failed in the JSON parser ("Unexpected token
 * '<'") and was told as "cannot reach Switchboard". It becomes an error naming the status.
 * And every request is given up when the server stays silent (answer-timeout.ts).
 */
import { answeringWithin } from "./answer-timeout.ts";

export class ForeignAnswer extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status} came back without Switchboard's JSON: a proxy or load balancer in front of it answered`);
    this.name = "ForeignAnswer";
  }
}

/** The fetch of the CLI's typed client: given up after `timeoutMs` of silence, foreign answers named. */
export function cliFetch(timeoutMs: number): typeof globalThis.fetch {
  const timed = answeringWithin(timeoutMs);
  return async (input, init) => {
    const response = await timed(input, init);
    if (response.ok || /\bjson\b/i.test(response.headers.get("content-type") ?? "")) return response;
    await response.body?.cancel();
    throw new ForeignAnswer(response.status);
  };
}
