/**
 * `switchboard keys create|list|update|revoke`, `switchboard logs tail`, `switchboard usage`,
 * `switchboard tag-budgets list|set|remove`, `switchboard cache purge|purges`: API keys, the
 * request log, spend, budgets and the response cache from a terminal, on the typed client.
 */
import { LOG_EXPORT_HEADERS } from "@switchboard/schema/log-export";
import { csvRecordCounter } from "./csv-records.ts";
import { pad, terminalJson, terminalLine } from "./terminal-text.ts";
import type { SwitchboardClient } from "../index.ts";

export const USAGE_COMMANDS_HELP = `  keys create --name <name>      Create an API key; its secret is printed once
       [--scopes a,b] [--models a,b] [--tags a,b] [--rate-limit <per min>]
       [--budget <usd>] [--budget-period day|month|total] [--expires-at <ISO time>]
  keys update <id> [--name <name>] [--scopes a,b] [--models a,b] [--tags a,b]
       [--rate-limit <per min>] [--budget <usd>] [--budget-period day|month|total]
                                 Change a key; only the options given (an empty --tags "" clears them)
  keys list [--all]              Your keys (ADMIN: everyone's); --all includes revoked ones
  keys revoke <id>               Revoke a key on every instance
  logs tail [--once]             Print gateway requests as they are logged (--once: the latest, then exit)
         [--limit <n>] [--model <m>] [--key <id>] [--status <code|4xx|5xx|error>] [--tag <tag>]
  logs export [--from <ISO>] [--to <ISO>] [--model <m>] [--key <id>] [--status <…>] [--tag <tag>]
                                 Write the request log as CSV to stdout (newest first; USER: your own);
                                 past the server's cap (100,000 rows) it holds the newest, says so
                                 on stderr and exits 3
  usage [--group-by user|key|model|provider|day|tag] [--from <ISO>] [--to <ISO>] [--tag <tag>] [--csv]
                                 Requests, tokens, cost, response-cache hits and what they
                                 saved (USER: your own; --csv: as CSV; --tag: only requests
                                 sent with that x-switchboard-tags label; by tag a request counts
                                 under each of its tags)
  tag-budgets list               Budgets on tags, with what their requests spent (ADMIN)
  tag-budgets set <tag> --budget <usd> [--budget-period day|month|total] [--keys-only|--anyone]
                                 Cap the spend of every request carrying the tag, whoever
                                 sends it (SuperAdmin; default period month); --keys-only: only
                                 API keys carrying the tag may send it (--anyone lifts that)
  tag-budgets remove <tag>       Lift a tag's budget (SuperAdmin)
  cache purge [--user <id> | --all]
                                 Forget kept answers (x-switchboard-cache-ttl) on every instance:
                                 yours; ADMIN: a user's, or --all everyone's
  cache purges [--limit <n>]     Who purged whose kept answers, and when (ADMIN)`;

export interface UsageOptions {
  /** What every request goes through (the CLI's fetch: its timeout, foreign answers named). */
  fetch: typeof globalThis.fetch;
  json: boolean;
  /** usage: CSV (the server's download) instead of the table. */
  csv: boolean;
  name: string | undefined;
  scopes: string | undefined;
  models: string | undefined;
  /** keys create: tags every request made with the key carries in the log. */
  tags: string | undefined;
  rateLimit: string | undefined;
  budget: string | undefined;
  budgetPeriod: string | undefined;
  expiresAt: string | undefined;
  all: boolean;
  once: boolean;
  limit: string | undefined;
  model: string | undefined;
  key: string | undefined;
  status: string | undefined;
  groupBy: string | undefined;
  tag: string | undefined;
  from: string | undefined;
  to: string | undefined;
  /** cache purge: whose kept answers (ADMIN). */
  user: string | undefined;
  /** tag-budgets set: only keys carrying the tag may send it, or (anyone) no longer so. */
  keysOnly: boolean;
  anyone: boolean;
  intervalMs: number;
}

export class CommandUsageError extends Error {}

const list = (v: string | undefined) => (v === undefined ? undefined : v.split(",").map((s) => s.trim()).filter(Boolean));
function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CommandUsageError(`${flag} must be a number, got ${JSON.stringify(v)}`);
  return n;
}
const usd = (n: number) => `$${n < 0.01 && n > 0 ? n.toFixed(6) : n.toFixed(2)}`;

/**
 * The key settings given as options, for keys create and keys update alike. Values are passed
 * as given: the server validates them and answers 400 naming the field.
 */
function keySettings(o: UsageOptions) {
  return {
    ...(o.scopes !== undefined ? { scopes: list(o.scopes) as never } : {}),
    ...(o.models !== undefined ? { models: list(o.models)! } : {}),
    ...(o.tags !== undefined ? { tags: list(o.tags)! } : {}),
    ...(o.rateLimit !== undefined ? { rateLimitPerMin: num(o.rateLimit, "--rate-limit")! } : {}),
    ...(o.budget !== undefined ? { budgetUsd: num(o.budget, "--budget")! } : {}),
    ...(o.budgetPeriod !== undefined ? { budgetPeriod: o.budgetPeriod as never } : {}),
  };
}

type Print = (value: unknown, human: string) => void;
type Write = (line: string) => void;

export async function runKeys(client: SwitchboardClient, action: string | undefined, args: string[], o: UsageOptions, print: Print): Promise<void> {
  switch (action) {
    case "create": {
      if (!o.name) throw new CommandUsageError("keys create needs --name <name>");
      const created = await client.keys.create.mutate({
        name: o.name,
        ...keySettings(o),
        ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
      });
      const tagged = created.tags.length > 0 ? `, tags ${created.tags.join(", ")}` : "";
      return print(created, `${created.key}\n\nAPI key "${created.name}" (${created.id}), scopes ${created.scopes.join(", ")}${tagged}.\nStore it now: it is not shown again.`);
    }
    case "list": {
      const page = await client.keys.list.query({ limit: 100, includeRevoked: o.all });
      const rows = page.items.map(
        (k) =>
          `${pad(k.id, 36)}  ${pad(k.prefix + "…", 13)}  ${pad(k.name, 20)}  ${pad(k.owner.email, 26)}  ${pad(k.scopes.join(","), 30)}  ${pad(k.lastUsedAt ?? "never", 24)}  ${usd(k.spendUsd)}${k.revokedAt ? "  REVOKED" : ""}`,
      );
      const head = `${pad("ID", 36)}  ${pad("PREFIX", 13)}  ${pad("NAME", 20)}  ${pad("OWNER", 26)}  ${pad("SCOPES", 30)}  ${pad("LAST USED", 24)}  SPEND`;
      return print(page, rows.length === 0 ? "No API keys." : [head, ...rows].join("\n"));
    }
    case "update": {
      const id = args[0];
      if (!id) throw new CommandUsageError("keys update needs the key's id (see keys list)");
      const updated = await client.keys.update.mutate({ id, ...(o.name !== undefined ? { name: o.name } : {}), ...keySettings(o) });
      const tagged = updated.tags.length > 0 ? `, tags ${updated.tags.join(", ")}` : ", no tags";
      return print(updated, `Updated "${updated.name}" (${updated.prefix}…): scopes ${updated.scopes.join(", ")}${tagged}; in force on every instance.`);
    }
    case "revoke": {
      const id = args[0];
      if (!id) throw new CommandUsageError("keys revoke needs the key's id (see keys list)");
      const revoked = await client.keys.revoke.mutate({ id });
      return print(revoked, `Revoked "${revoked.name}" (${revoked.prefix}…) on every instance.`);
    }
    default:
      throw new CommandUsageError(action ? `Unknown keys command: ${action}` : "keys needs a command: create, list, update or revoke");
  }
}

const PER: Record<string, string> = { day: "a day", month: "a month", total: "in total" };

export async function runTagBudgets(client: SwitchboardClient, action: string | undefined, args: string[], o: UsageOptions, print: Print): Promise<void> {
  switch (action) {
    case "list": {
      const budgets = await client.tagBudgets.list.query();
      const rows = budgets.map((b) => `${pad(b.tag, 40)}  ${usd(b.spendUsd).padStart(12)} of ${pad(`${usd(b.budgetUsd)} ${PER[b.budgetPeriod] ?? b.budgetPeriod}`, 22)}  ${String(b.requests).padStart(8)}${b.keysOnly ? "  keys only" : ""}`);
      const head = `${pad("TAG", 40)}  ${"SPENT".padStart(12)}    ${pad("BUDGET", 22)}  ${"REQUESTS".padStart(8)}`;
      return print(budgets, rows.length === 0 ? "No tag budgets." : [head, ...rows].join("\n"));
    }
    case "set": {
      const tag = args[0];
      const budgetUsd = num(o.budget, "--budget");
      if (!tag || budgetUsd === undefined) throw new CommandUsageError("tag-budgets set needs a tag and --budget <usd>");
      if (o.keysOnly && o.anyone) throw new CommandUsageError("tag-budgets set takes --keys-only or --anyone, not both");
      const keysOnly = o.keysOnly ? { keysOnly: true } : o.anyone ? { keysOnly: false } : {};
      const set = await client.tagBudgets.set.mutate({ tag, budgetUsd, ...(o.budgetPeriod !== undefined ? { budgetPeriod: o.budgetPeriod as never } : {}), ...keysOnly });
      const who = set.keysOnly ? "; only API keys carrying the tag may send it" : "";
      return print(set, `Requests tagged ${set.tag} may spend ${usd(set.budgetUsd)} ${PER[set.budgetPeriod] ?? set.budgetPeriod}${who}; in force on every instance.`);
    }
    case "remove": {
      const tag = args[0];
      if (!tag) throw new CommandUsageError("tag-budgets remove needs the tag");
      const removed = await client.tagBudgets.remove.mutate({ tag });
      return print(removed, `Removed the budget on ${tag}.`);
    }
    default:
      throw new CommandUsageError(action ? `Unknown tag-budgets command: ${action}` : "tag-budgets needs a command: list, set or remove");
  }
}

type LogRow = Awaited<ReturnType<SwitchboardClient["logs"]["list"]["query"]>>["items"][number];

function logLine(r: LogRow): string {
  const tokens = `${r.promptTokens}+${r.completionTokens} tok`;
  const cache = r.cacheHit ? `cache hit${r.cacheSavedUsd > 0 ? ` (saved ${usd(r.cacheSavedUsd)})` : ""}` : "";
  return [r.createdAt, String(r.status), pad(r.route, 22), pad(r.model ?? "-", 14), pad(r.provider ?? "-", 10), `${r.latencyMs}ms`, tokens, usd(r.costUsd), cache, r.errorCode ?? "", r.stream ? "stream" : "", r.tags.length > 0 ? `[${r.tags.join(",")}]` : ""]
    .filter(Boolean)
    .join("  ");
}

/** Polls logs.list and prints rows not seen yet, oldest first, until the signal aborts. */
export async function tailLogs(client: SwitchboardClient, o: UsageOptions, write: Write, signal: AbortSignal): Promise<void> {
  const filters = { limit: num(o.limit, "--limit") ?? 20, ...logFilters(o) };
  const seen = new Set<string>();
  for (;;) {
    const page = await client.logs.list.query(filters);
    for (const row of [...page.items].reverse()) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      // One line each, whatever a caller put in the row (a model name): shown, never run by the terminal.
      write(o.json ? terminalJson(row) : terminalLine(logLine(row)));
    }
    if (o.once || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.intervalMs);
      signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
    if (signal.aborted) return;
  }
}

/** logs tail's and logs export's filters, as logs.list takes them. */
function logFilters(o: UsageOptions) {
  return {
    ...(o.model ? { model: o.model } : {}),
    ...(o.key ? { keyId: o.key } : {}),
    ...(o.status ? { status: (/^\d+$/.test(o.status) ? Number(o.status) : o.status) as never } : {}),
    ...(o.tag ? { tag: o.tag } : {}),
  };
}

const range = (o: UsageOptions) => ({ ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) });

/**
 * Writes the request log as CSV (GET /api/logs/export.csv: logs.list's filters, newest first,
 * up to the server's cap) as it arrives, so a large export never sits in memory. "cut" when
 * more rows matched than the cap (the server says so in its headers): the output holds the
 * newest, and `warn` has said so. Fewer rows than the server announced is thrown as an
 * incomplete output: a hop that speaks HTTP/1.0 to the server turns a transfer broken off
 * part-way into a clean, short end, which only the count can tell.
 */
export async function exportLogs(url: string, token: string, o: UsageOptions, write: Write, warn: Write): Promise<"whole" | "cut"> {
  const { headers, records } = await downloadCsv(o.fetch, url, "/api/logs/export.csv", token, { ...logFilters(o), ...range(o) }, write);
  const announced = Number(headers.get(LOG_EXPORT_HEADERS.rows));
  const received = Math.max(records - 1, 0); // the header line is a record too
  if (Number.isSafeInteger(announced) && received < announced) {
    throw new Error(
      `the export holds ${received.toLocaleString("en")} of the ${announced.toLocaleString("en")} rows the server announced: the output is incomplete ` +
        "(cut short on its way, e.g. by a proxy that speaks HTTP/1.0 to Switchboard, or rows were pruned or deleted while it ran)",
    );
  }
  if (headers.get(LOG_EXPORT_HEADERS.truncated) !== "true") return "whole";
  warn(`warning: the export holds the newest ${announced.toLocaleString("en")} of more matching rows; narrow it with --from/--to`);
  return "cut";
}

/** usage.summary as CSV (GET /api/usage/export.csv): its groups, then a TOTAL row. */
export async function exportUsage(url: string, token: string, o: UsageOptions, write: Write): Promise<void> {
  await downloadCsv(o.fetch, url, "/api/usage/export.csv", token, { groupBy: o.groupBy ?? "model", ...range(o), ...(o.tag ? { tag: o.tag } : {}) }, write);
}

/**
 * Writes one of the server's CSV downloads to `write` as it arrives and returns its headers
 * and how many CSV records (the header line included) arrived whole; a refusal is thrown with
 * its message, and so is a transfer the server broke off (what was written is then incomplete).
 */
async function downloadCsv(fetch: typeof globalThis.fetch, url: string, path: string, token: string, params: Record<string, unknown>, write: Write): Promise<{ headers: Headers; records: number }> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
  const res = await fetch(`${url.replace(/\/+$/, "")}${path}?${query}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
    throw new Error(`${res.status}: ${body?.error?.message ?? res.statusText}`);
  }
  const text = new TextDecoder();
  const counter = csvRecordCounter();
  const pass = (piece: string) => {
    counter.add(piece);
    write(piece);
  };
  try {
    for await (const chunk of res.body) pass(text.decode(chunk, { stream: true }));
  } catch (error) {
    throw new Error(`the download broke off before its end (${(error as Error).message}): the output is incomplete`);
  }
  pass(text.decode());
  return { headers: res.headers, records: counter.records };
}

export async function showUsage(client: SwitchboardClient, o: UsageOptions, print: Print): Promise<void> {
  const summary = await client.usage.summary.query({
    groupBy: (o.groupBy ?? "model") as never,
    ...(o.from ? { from: o.from } : {}),
    ...(o.to ? { to: o.to } : {}),
    ...(o.tag ? { tag: o.tag } : {}),
  });
  type Sums = (typeof summary)["total"];
  const row = (name: string, s: Sums) =>
    `${pad(name, 40)}  ${String(s.requests).padStart(8)}  ${String(s.promptTokens).padStart(10)}  ${String(s.completionTokens).padStart(10)}  ${usd(s.costUsd).padStart(12)}  ${String(s.cacheHits).padStart(10)}  ${usd(s.cacheSavedUsd).padStart(12)}`;
  const head = `${pad((o.groupBy ?? "model").toUpperCase(), 40)}  ${"REQUESTS".padStart(8)}  ${"PROMPT".padStart(10)}  ${"COMPLETION".padStart(10)}  ${"COST".padStart(12)}  ${"CACHE HITS".padStart(10)}  ${"SAVED".padStart(12)}`;
  const lines = summary.groups.map((g) => row(g.label ?? g.key, g));
  const total = row("TOTAL", summary.total);
  print(summary, [head, ...lines, total].join("\n"));
}

export async function runCache(client: SwitchboardClient, action: string | undefined, o: UsageOptions, print: Print): Promise<void> {
  if (action === "purges") return listPurges(client, o, print);
  if (action !== "purge") throw new CommandUsageError(action ? `Unknown cache command: ${action}` : "cache needs a command: purge or purges");
  if (o.all && o.user !== undefined) throw new CommandUsageError("cache purge takes --user <id> or --all, not both");
  const result = await client.cache.purge.mutate(o.all ? { everyone: true } : o.user !== undefined ? { userId: o.user } : {});
  const whose = result.everyone ? "everyone's" : o.user !== undefined ? `user ${result.userId}'s` : "your";
  return print(result, `Purged ${whose} cached answers (kept before ${result.purgedAt}) on every instance.`);
}

/** The recorded purges, newest first: when (the purge time that holds), whose answers, by whom. */
async function listPurges(client: SwitchboardClient, o: UsageOptions, print: Print): Promise<void> {
  const limit = o.limit === undefined ? 20 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new CommandUsageError(`--limit must be a whole number from 1 to 100, got ${JSON.stringify(o.limit)}`);
  const page = await client.cache.purges.query({ limit });
  const rows = page.items.map((p) => {
    const whose = p.everyone ? "everyone's" : `${p.userEmail ?? p.userId}'s`;
    const via = p.via === "key" ? ` with key ${p.actorKeyName ? `"${p.actorKeyName}"` : p.actorKeyId}` : "";
    // One line each: a key's name (or an email) with a newline could otherwise forge a row.
    return terminalLine(`${p.purgedAt.slice(0, 19).replace("T", " ")}  ${whose}  by ${p.actorEmail}${via}`);
  });
  return print(page, rows.length === 0 ? "No purge has been recorded." : rows.join("\n"));
}
