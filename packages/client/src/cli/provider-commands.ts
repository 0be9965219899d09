/**
 * `switchboard providers list|add|test|remove` and `switchboard models list|set`: providers
 * and model routes from a terminal, on the typed client. Values are passed as given: the
 * server validates them and answers 400 naming the field.
 */
import type { SwitchboardClient } from "../index.ts";
import { CommandUsageError } from "./usage-commands.ts";
import { pad } from "./terminal-text.ts";

export const PROVIDER_COMMANDS_HELP = `  providers list                 Providers with kind, masked key, health and circuit (ADMIN)
  providers add <name> --kind openai-compatible|anthropic|ollama|azure-openai
         --base-url <url> [--api-key <key>] [--models a,b] [--timeout-ms <n>]
         [--header name=value]… [--api-version <v>]          Add a provider (SuperAdmin)
  providers test <name>          One real call: latency or the upstream's error (SuperAdmin)
  providers remove <name>        Delete a provider no route uses (SuperAdmin)
  models list                    Model routes: targets, weights, prices and cache time
  models set <name> --target provider:upstreamModel[:weight]…
         [--input-price <usd/Mtok>] [--output-price <usd/Mtok>] [--cached-input-price <usd/Mtok>]
         [--cache-ttl <seconds>]  Create or replace a route (SuperAdmin); order = fallback order;
                                 --cache-ttl answers its requests from the response cache`;

export interface ProviderOptions {
  kind: string | undefined;
  baseUrl: string | undefined;
  apiKey: string | undefined;
  models: string | undefined;
  timeoutMs: string | undefined;
  header: string[];
  apiVersion: string | undefined;
  target: string[];
  inputPrice: string | undefined;
  outputPrice: string | undefined;
  cachedInputPrice: string | undefined;
  cacheTtl: string | undefined;
}

type Print = (value: unknown, human: string) => void;

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CommandUsageError(`${flag} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

async function providerId(client: SwitchboardClient, name: string | undefined, command: string): Promise<string> {
  if (!name) throw new CommandUsageError(`providers ${command} needs the provider's name (see providers list)`);
  const found = (await client.providers.list.query({ limit: 100 })).items.find((p) => p.name === name || p.id === name);
  if (!found) throw new CommandUsageError(`No provider named ${JSON.stringify(name)} (see providers list)`);
  return found.id;
}

export async function runProviders(client: SwitchboardClient, action: string | undefined, args: string[], o: ProviderOptions, print: Print): Promise<void> {
  switch (action) {
    case "list": {
      const page = await client.providers.list.query({ limit: 100 });
      const head = `${pad("NAME", 16)}  ${pad("KIND", 17)}  ${pad("KEY", 12)}  ${pad("HEALTH", 12)}  ${pad("CIRCUIT", 9)}  ${pad("MODELS", 30)}  BASE URL`;
      const rows = page.items.map((p) => {
        const health = p.health.state === "reachable" && p.health.latencyMs !== null ? `up ${p.health.latencyMs}ms` : p.health.state;
        return `${pad(p.name, 16)}  ${pad(p.kind, 17)}  ${pad(p.apiKeyMasked ?? "-", 12)}  ${pad(health, 12)}  ${pad(p.circuit.state, 9)}  ${pad(p.models.join(","), 30)}  ${p.baseUrl ?? "-"}`;
      });
      return print(page, rows.length === 0 ? "No providers." : [head, ...rows].join("\n"));
    }
    case "add": {
      const name = args[0];
      if (!name) throw new CommandUsageError("providers add needs a name: providers add <name> --kind … --base-url …");
      if (!o.kind || !o.baseUrl) throw new CommandUsageError("providers add needs --kind and --base-url");
      const headers = Object.fromEntries(
        o.header.map((h) => {
          const eq = h.indexOf("=");
          if (eq <= 0) throw new CommandUsageError(`--header must be name=value, got ${JSON.stringify(h)}`);
          return [h.slice(0, eq), h.slice(eq + 1)];
        }),
      );
      const result = await client.providers.create.mutate({
        name,
        kind: o.kind as never,
        baseUrl: o.baseUrl,
        models: o.models ? o.models.split(",").map((m) => m.trim()).filter(Boolean) : [],
        ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
        ...(o.header.length > 0 ? { headers } : {}),
        ...(o.timeoutMs !== undefined ? { timeoutMs: num(o.timeoutMs, "--timeout-ms")! } : {}),
        ...(o.apiVersion !== undefined ? { apiVersion: o.apiVersion } : {}),
      });
      return print(result, `Added provider ${name} (${result.provider?.id}); applied by ${result.acknowledgedBy} of ${result.liveInstances} instances.`);
    }
    case "test": {
      const result = await client.providers.test.mutate({ id: await providerId(client, args[0], "test") });
      return print(result, result.ok ? `ok in ${result.latencyMs} ms${result.model ? ` (${result.model})` : ""}` : `failed after ${result.latencyMs} ms: ${result.error}`);
    }
    case "remove": {
      const result = await client.providers.delete.mutate({ id: await providerId(client, args[0], "remove") });
      return print(result, `Removed provider ${args[0]}; applied by ${result.acknowledgedBy} of ${result.liveInstances} instances.`);
    }
    default:
      throw new CommandUsageError(action ? `Unknown providers command: ${action}` : "providers needs a command: list, add, test or remove");
  }
}

export async function runModels(client: SwitchboardClient, action: string | undefined, args: string[], o: ProviderOptions, print: Print): Promise<void> {
  switch (action) {
    case "list": {
      const page = await client.models.list.query({ limit: 100 });
      const price = (v: number | null) => (v === null ? "-" : `$${v}`);
      const rows = page.items.map((m) => {
        const targets = m.targets.map((t) => `${t.provider}:${t.upstreamModel}${t.weight !== null ? `:${t.weight}` : ""}`).join(" → ");
        return `${pad(m.name, 24)}  in ${pad(price(m.inputPricePerMTok), 8)} out ${pad(price(m.outputPricePerMTok), 8)}  ${pad(m.cacheTtlSec === null ? "-" : `${m.cacheTtlSec}s`, 7)}  ${targets}`;
      });
      return print(page, rows.length === 0 ? "No models." : [`${pad("MODEL", 24)}  PRICE PER MTOK            CACHE    TARGETS (fallback order)`, ...rows].join("\n"));
    }
    case "set": {
      const name = args[0];
      if (!name) throw new CommandUsageError("models set needs a name: models set <name> --target provider:model[:weight]");
      if (o.target.length === 0) throw new CommandUsageError("models set needs at least one --target provider:upstreamModel[:weight]");
      const targets = o.target.map((spec) => {
        const first = spec.indexOf(":");
        if (first <= 0) throw new CommandUsageError(`--target must be provider:upstreamModel[:weight], got ${JSON.stringify(spec)}`);
        const provider = spec.slice(0, first);
        let upstreamModel = spec.slice(first + 1);
        let weight: number | undefined;
        const last = upstreamModel.lastIndexOf(":");
        if (last > 0 && /^[0-9.]+$/.test(upstreamModel.slice(last + 1))) {
          weight = Number(upstreamModel.slice(last + 1));
          upstreamModel = upstreamModel.slice(0, last);
        }
        return { provider, upstreamModel, ...(weight !== undefined ? { weight } : {}) };
      });
      const result = await client.models.upsert.mutate({
        name,
        targets,
        ...(o.inputPrice !== undefined ? { inputPricePerMTok: num(o.inputPrice, "--input-price")! } : {}),
        ...(o.outputPrice !== undefined ? { outputPricePerMTok: num(o.outputPrice, "--output-price")! } : {}),
        ...(o.cachedInputPrice !== undefined ? { cachedInputPricePerMTok: num(o.cachedInputPrice, "--cached-input-price")! } : {}),
        ...(o.cacheTtl !== undefined ? { cacheTtlSec: num(o.cacheTtl, "--cache-ttl")! } : {}),
      });
      return print(result, `Model ${name} → ${targets.map((t) => t.provider).join(", ")}; applied by ${result.acknowledgedBy} of ${result.liveInstances} instances.`);
    }
    default:
      throw new CommandUsageError(action ? `Unknown models command: ${action}` : "models needs a command: list or set");
  }
}
