/**
 * A set of fake OpenAI-protocol upstreams, one per provider kind, and the env that points a
 * test app's providers at them (PROVIDER_ORDER = the given names, then the template).
 */
import { startFakeOpenAI, type FakeOpenAIServer } from "./fake-openai-server.ts";

export type UpstreamName = "beta" | "deepseek" | "openai" | "ollama";

const ENV_OF: Record<UpstreamName, (url: string, apiKey: string) => Record<string, string>> = {
  beta: (url) => ({ BETA_MODEL_BASE_URL: url }),
  deepseek: (url, apiKey) => ({ DEEPSEEK_API_KEY: apiKey, DEEPSEEK_BASE_URL: url }),
  openai: (url, apiKey) => ({ OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: url }),
  ollama: (url) => ({ OLLAMA_BASE_URL: url }),
};

export interface Upstreams<N extends UpstreamName> {
  fakes: Record<N, FakeOpenAIServer>;
  /** Provider settings for `startTestApp({ env })`. */
  env: Record<string, string>;
  /** Forgets recorded requests and answers "ok" again (for afterEach). */
  reset(): void;
  close(): Promise<void>;
}

export async function startUpstreams<N extends UpstreamName>(names: readonly N[], opts: { apiKey?: string } = {}): Promise<Upstreams<N>> {
  const started = await Promise.all(names.map((name) => startFakeOpenAI({ name })));
  const fakes = Object.fromEntries(names.map((name, i) => [name, started[i]!])) as Record<N, FakeOpenAIServer>;
  const env: Record<string, string> = { PROVIDER_ORDER: [...names, "template"].join(",") };
  names.forEach((name, i) => Object.assign(env, ENV_OF[name](started[i]!.url, opts.apiKey ?? "sk-test")));
  return {
    fakes,
    env,
    reset() {
      for (const fake of started) {
        fake.requests.length = 0;
        fake.setDefault({ kind: "ok" });
      }
    },
    close: async () => {
      await Promise.all(started.map((fake) => fake.close()));
    },
  };
}
