/**
 * The CLI's fetch. An answer that is not Switchboard's — a proxy's or an ingress's HTML error
 * page, such as a 413 from its own body limit — failed in the JSON parser ("Unexpected token
 * '<'") and was told as "cannot reach Switchboard". It becomes an error naming the status.
 * A success that is not Switchboard's either — `--url` pointing at some web site, whose page
 * answers 200 — was told the same way, though the address answered: it is said to be
 * something else (NotSwitchboard). And every request is given up when the server stays
 * silent (answer-timeout.ts).
 */
import { answeringWithin } from "./answer-timeout.ts";

export class ForeignAnswer extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status} came back without Switchboard's JSON: a proxy or load balancer in front of it answered`);
    this.name = "ForeignAnswer";
  }
}

/** A success that Switchboard never sends: the address answers, but something else is there. */
export class NotSwitchboard extends Error {
  constructor(
    readonly status: number,
    readonly contentType: string,
  ) {
    super(`HTTP ${status} came back as ${contentType || "a body without a content type"}, not Switchboard's JSON`);
    this.name = "NotSwitchboard";
  }
}

/** The fetch of the CLI's typed client: given up after `timeoutMs` of silence, foreign answers named. */
export function cliFetch(timeoutMs: number): typeof globalThis.fetch {
  const timed = answeringWithin(timeoutMs);
  return async (input, init) => {
    const response = await timed(input, init);
    const contentType = response.headers.get("content-type") ?? "";
    if (response.ok && !isForeignSuccess(requestPath(input), contentType)) return response;
    if (!response.ok && /\bjson\b/i.test(contentType)) return response;
    await response.body?.cancel();
    throw response.ok ? new NotSwitchboard(response.status, contentType.split(";")[0]!.trim()) : new ForeignAnswer(response.status);
  };
}

/**
 * Switchboard answers a procedure (/trpc/…) with JSON, or an event stream for a subscription,
 * and its downloads as CSV: never a web page. Anything else on a success is someone else's.
 */
function isForeignSuccess(path: string, contentType: string): boolean {
  if (/^text\/html\b/i.test(contentType)) return true;
  return path.includes("/trpc/") && !/\bjson\b|^text\/event-stream\b/i.test(contentType);
}

function requestPath(input: Parameters<typeof globalThis.fetch>[0]): string {
  const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  return URL.canParse(href) ? new URL(href).pathname : href;
}
