/**
 * How long a command waits on a silent server. fetch's own limit is five minutes for the
 * answer to start and five more between two pieces of it, so a server or a load balancer that
 * took the connection and then said nothing (hung, or a port-forward to a dead pod) held
 * `emergency freeze` — in an incident — or a pipeline's step that long before "fetch failed".
 * Each request is given up after SWITCHBOARD_TIMEOUT_SEC (60) seconds without a byte: before
 * the answer starts (which includes sending the request: a 16 MB `config apply` over a slow
 * link may need more), and between two pieces of it, so a long download that keeps coming
 * (`logs export`) is never cut.
 */

export const ANSWER_TIMEOUT_ENV = "SWITCHBOARD_TIMEOUT_SEC";
const DEFAULT_TIMEOUT_SEC = 60;

/** The wait in milliseconds from the environment, or the reason its value is unusable. */
export function answerTimeoutMs(env: Record<string, string | undefined>): { ms: number } | { problem: string } {
  const raw = env[ANSWER_TIMEOUT_ENV]?.trim();
  if (!raw) return { ms: DEFAULT_TIMEOUT_SEC * 1000 };
  const sec = Number(raw);
  if (!Number.isFinite(sec) || sec <= 0 || sec > 86_400) return { problem: `$${ANSWER_TIMEOUT_ENV} must be a number of seconds above 0 and at most 86400, got ${JSON.stringify(raw)}` };
  return { ms: Math.ceil(sec * 1000) };
}

/** The error a request given up ends with; the caller's "cannot reach Switchboard at …:" comes before it. */
export class NoAnswer extends Error {
  constructor(timeoutMs: number) {
    super(`the server sent nothing for ${timeoutMs / 1000} s (set $${ANSWER_TIMEOUT_ENV} to wait longer)`);
    this.name = "NoAnswer";
  }
}

/** `base` with each request aborted after `timeoutMs` with nothing received: before the answer's head, or between two pieces of its body. */
export function answeringWithin(timeoutMs: number, base: typeof globalThis.fetch = globalThis.fetch): typeof globalThis.fetch {
  return async (input, init) => {
    const silence = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // Unref'd: a timer left behind by a body nobody reads must not keep the command running.
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => silence.abort(new NoAnswer(timeoutMs)), timeoutMs).unref();
    };
    rearm();
    const signal = init?.signal ? AbortSignal.any([init.signal, silence.signal]) : silence.signal;
    let response: Response;
    try {
      response = await base(input, { ...init, signal });
    } catch (error) {
      clearTimeout(timer);
      throw silence.signal.aborted ? silence.signal.reason : error;
    }
    if (!response.body) {
      clearTimeout(timer);
      return response;
    }
    rearm();
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          rearm();
          controller.enqueue(chunk);
        },
        flush: () => clearTimeout(timer),
      }),
    );
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
