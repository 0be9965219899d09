/** Raw HTTP helpers for tests that check the wire format exactly as curl would see it. */

export interface TrpcResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
}

export async function trpcQuery(baseUrl: string, path: string, input?: unknown, headers: Record<string, string> = {}): Promise<TrpcResponse> {
  const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  const res = await fetch(`${baseUrl}/trpc/${path}${query}`, { headers });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

export async function trpcMutation(baseUrl: string, path: string, input?: unknown, headers: Record<string, string> = {}): Promise<TrpcResponse> {
  const res = await fetch(`${baseUrl}/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: input === undefined ? undefined : JSON.stringify(input),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * The request-log row of `requestId` as `logs.list` shows it to `token`'s holder, polled until
 * it is written (the log writer flushes in the background).
 */
export async function loggedRow(baseUrl: string, token: string, requestId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const res = await trpcQuery(baseUrl, "logs.list", { limit: 100 }, bearer(token));
    const row = (res.body.result.data.items as Array<Record<string, unknown>>).find((r) => r["requestId"] === requestId);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log row for ${requestId}`);
}
