/**
 * Calling a provider directly in its tests: a request, a stream collected to its end (or to
 * the ProviderError that ended it), and the error a failed call settled with.
 */
import { ProviderError, type ChatProvider, type ProviderChunk, type ProviderRequest } from "../src/providers/types.ts";

export const ask = (extra: Partial<ProviderRequest> = {}): ProviderRequest => ({
  messages: [{ role: "user", content: "hello there" }],
  signal: new AbortController().signal,
  ...extra,
});

export async function collect(p: ChatProvider, request: ProviderRequest = ask()): Promise<{ chunks: ProviderChunk[]; error?: ProviderError }> {
  const chunks: ProviderChunk[] = [];
  try {
    for await (const chunk of p.stream(request)) chunks.push(chunk);
    return { chunks };
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    return { chunks, error };
  }
}

/** The error a call failed with; undefined when it succeeded. */
export const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as ProviderError);
