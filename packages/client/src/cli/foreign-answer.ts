/**
 * The CLI's fetch. An answer that is not Switchboard's — a proxy's or an ingress's HTML error
 * page, such as a 413 from its own body limit — failed in the JSON parser ("Unexpected token
 * '<'") and was told as "cannot reach Switchboard". It becomes an error naming the status.
 */
export class ForeignAnswer extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status} came back without Switchboard's JSON: a proxy or load balancer in front of it answered`);
    this.name = "ForeignAnswer";
  }
}

export const cliFetch: typeof globalThis.fetch = async (input, init) => {
  const response = await globalThis.fetch(input, init);
  if (response.ok || /\bjson\b/i.test(response.headers.get("content-type") ?? "")) return response;
  await response.body?.cancel();
  throw new ForeignAnswer(response.status);
};
