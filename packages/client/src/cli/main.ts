/**
 * `switchboard emergency status|freeze|unfreeze` — the emergency stop from a terminal, on
 * the same typed client other services use. Exit codes: 0 done, 1 the request failed
 * (refused, invalid, unreachable, a download broken off or shorter than announced), 2 bad usage, 3 `logs export` was cut
 * at the server's cap (its output holds the newest rows: complete as far as it goes, but not
 * everything asked for, which a script must not take for the whole log).
 */
import { parseArgs } from "node:util";
import { createSwitchboardClient, TRPCClientError, type SwitchboardClient } from "../index.ts";
import { answerTimeoutMs } from "./answer-timeout.ts";
import { cliFetch, NotSwitchboard } from "./foreign-answer.ts";
import { serverUrlProblem } from "./server-url.ts";
import { terminalJson, terminalText } from "./terminal-text.ts";
import { unreadOption } from "./command-options.ts";
import { formatChange, formatStatus } from "./format.ts";
import { CommandUsageError, exportLogs, exportUsage, runCache, runKeys, runTagBudgets, showUsage, tailLogs, USAGE_COMMANDS_HELP, type UsageOptions } from "./usage-commands.ts";
import { createPrompter, type CliIo } from "./io.ts";
import { PROVIDER_COMMANDS_HELP, runModels, runProviders, type ProviderOptions } from "./provider-commands.ts";
import { CONFIG_COMMANDS_HELP, runConfig, type ConfigOptions } from "./config-commands.ts";

const DEFAULT_URL = "http://127.0.0.1:3000";

export const USAGE = `Usage: switchboard emergency <command> [options]
       switchboard keys|logs|usage|tag-budgets|cache|providers|models|config … [options]

Commands:
  emergency status                         Show whether Switchboard is frozen (no sign-in needed)
  freeze --reason <text>         Freeze the fleet (SuperAdmin)
         [--scope <scope>]       global (default), chat, consensus or provider:<id>
                                 (any provider's name)
         [--expires-in-sec <n>]  Unfreeze automatically after n seconds
  unfreeze [--reason <text>]     Lift the freeze (SuperAdmin)
${USAGE_COMMANDS_HELP}
${PROVIDER_COMMANDS_HELP}
${CONFIG_COMMANDS_HELP}

Options:
  --url <url>    Switchboard base URL (default: $SWITCHBOARD_URL or ${DEFAULT_URL})
  --json         Print the raw JSON answer
  -h, --help     Show this help

Authentication: $SWITCHBOARD_API_KEY (an API key, sb-…) or $SWITCHBOARD_TOKEN (an access
token), otherwise you are asked for your email and password.
A request is given up after $SWITCHBOARD_TIMEOUT_SEC (60) seconds in which the server sent nothing.`;

class UsageError extends Error {}

type FreezeInput = Parameters<SwitchboardClient["emergency"]["freeze"]["mutate"]>[0];

interface Options extends UsageOptions, ProviderOptions, ConfigOptions {
  url: string;
  json: boolean;
  reason: string | undefined;
  scope: string | undefined;
  expiresInSec: number | undefined;
}

function parse(argv: string[], env: CliIo["env"]): { command: string[]; options: Options; given: string[]; help: boolean } {
  const timeout = answerTimeoutMs(env);
  if ("problem" in timeout) throw new UsageError(timeout.problem);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      tokens: true,
      options: {
        url: { type: "string" },
        json: { type: "boolean", default: false },
        reason: { type: "string" },
        scope: { type: "string" },
        "expires-in-sec": { type: "string" },
        name: { type: "string" },
        scopes: { type: "string" },
        models: { type: "string" },
        "rate-limit": { type: "string" },
        budget: { type: "string" },
        "budget-period": { type: "string" },
        "expires-at": { type: "string" },
        all: { type: "boolean", default: false },
        once: { type: "boolean", default: false },
        csv: { type: "boolean", default: false },
        limit: { type: "string" },
        model: { type: "string" },
        key: { type: "string" },
        status: { type: "string" },
        "group-by": { type: "string" },
        tag: { type: "string" },
        tags: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        kind: { type: "string" },
        "base-url": { type: "string" },
        "api-key": { type: "string" },
        "timeout-ms": { type: "string" },
        header: { type: "string", multiple: true },
        "api-version": { type: "string" },
        target: { type: "string", multiple: true },
        "input-price": { type: "string" },
        "output-price": { type: "string" },
        "cached-input-price": { type: "string" },
        "cache-ttl": { type: "string" },
        user: { type: "string" },
        "keys-only": { type: "boolean", default: false },
        anyone: { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
        prune: { type: "boolean", default: false },
        yaml: { type: "boolean", default: false },
        "if-version": { type: "string" },
        "allow-env": { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  const rawExpiry = values["expires-in-sec"];
  const expiresInSec = rawExpiry === undefined ? undefined : Number(rawExpiry);
  if (expiresInSec !== undefined && (!Number.isInteger(expiresInSec) || expiresInSec <= 0)) {
    throw new UsageError(`--expires-in-sec must be a positive whole number of seconds, got ${JSON.stringify(rawExpiry)}`);
  }
  return {
    command: positionals,
    given: tokens.flatMap((token) => (token.kind === "option" ? [token.name] : [])),
    help: values.help === true,
    options: {
      url: values.url ?? env["SWITCHBOARD_URL"] ?? DEFAULT_URL,
      fetch: cliFetch(timeout.ms),
      json: values.json === true,
      reason: values.reason,
      scope: values.scope,
      expiresInSec,
      name: values.name,
      scopes: values.scopes,
      models: values.models,
      rateLimit: values["rate-limit"],
      budget: values.budget,
      budgetPeriod: values["budget-period"],
      expiresAt: values["expires-at"],
      all: values.all === true,
      once: values.once === true,
      csv: values.csv === true,
      limit: values.limit,
      model: values.model,
      key: values.key,
      status: values.status,
      groupBy: values["group-by"],
      tag: values.tag,
      tags: values.tags,
      from: values.from,
      to: values.to,
      intervalMs: 2000,
      kind: values.kind,
      baseUrl: values["base-url"],
      apiKey: values["api-key"],
      timeoutMs: values["timeout-ms"],
      header: values.header ?? [],
      apiVersion: values["api-version"],
      target: values.target ?? [],
      inputPrice: values["input-price"],
      outputPrice: values["output-price"],
      cachedInputPrice: values["cached-input-price"],
      cacheTtl: values["cache-ttl"],
      user: values.user,
      keysOnly: values["keys-only"] === true,
      anyone: values.anyone === true,
      dryRun: values["dry-run"] === true,
      prune: values.prune === true,
      yaml: values.yaml === true,
      ifVersion: values["if-version"],
      allowEnv: values["allow-env"] ?? [],
    },
  };
}

/** A credential: an API key or access token from the env, or an interactive sign-in's token. */
async function signedInToken(options: Options, io: CliIo): Promise<string> {
  const token = io.env["SWITCHBOARD_API_KEY"]?.trim() || io.env["SWITCHBOARD_TOKEN"]?.trim();
  if (token) return token;
  const prompter = createPrompter(io);
  try {
    const email = await prompter.ask("Email: ");
    const password = await prompter.askHidden("Password: ");
    return (await createSwitchboardClient({ url: options.url, fetch: options.fetch }).auth.login.mutate({ email, password })).accessToken;
  } finally {
    prompter.close();
  }
}

/** A signed-in client (see signedInToken). */
async function signedIn(options: Options, io: CliIo): Promise<SwitchboardClient> {
  return createSwitchboardClient({ url: options.url, token: await signedInToken(options, io), fetch: options.fetch });
}

/** The exit code of a run that did what it was asked, but not all of it (see the top of this file). */
const EXPORT_CUT = 3;

async function run(command: string[], options: Options, io: CliIo): Promise<number | void> {
  // What others chose (model names, key names) is in the human text: shown, never run by the terminal.
  const print = (value: unknown, human: string): void => void io.stdout.write(`${options.json ? terminalJson(value, 2) : terminalText(human)}\n`);
  const [group, action, ...extra] = command;
  if (group === "keys") return runKeys(await signedIn(options, io), action, extra, options, print);
  if (group === "usage" && options.csv && options.json) throw new UsageError("usage takes --csv or --json, not both");
  if (group === "usage" && options.csv) return exportUsage(options.url, await signedInToken(options, io), options, (text) => void io.stdout.write(text));
  if (group === "usage") return showUsage(await signedIn(options, io), options, print);
  if (group === "cache") return runCache(await signedIn(options, io), action, options, print);
  if (group === "tag-budgets") return runTagBudgets(await signedIn(options, io), action, extra, options, print);
  if (group === "providers") return runProviders(await signedIn(options, io), action, extra, options, print);
  if (group === "models") return runModels(await signedIn(options, io), action, extra, options, print);
  // Signed in only once the file has been read: a bad file costs no password prompt.
  if (group === "config") return runConfig(() => signedIn(options, io), action, extra, options, io, print);
  if (group === "logs") {
    if (action === "export") {
      const written = await exportLogs(options.url, await signedInToken(options, io), options, (text) => void io.stdout.write(text), (line) => void io.stderr.write(`${line}\n`));
      return written === "cut" ? EXPORT_CUT : 0;
    }
    if (action !== "tail") throw new UsageError(action ? `Unknown logs command: ${action}` : "logs needs a command: tail or export");
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    return tailLogs(await signedIn(options, io), options, (line) => void io.stdout.write(`${line}\n`), stop.signal);
  }
  if (group !== "emergency" || !action) throw new UsageError(group ? `Unknown command: ${command.join(" ")}` : "No command given");
  if (extra.length > 0) throw new UsageError(`Unexpected argument: ${extra.join(" ")} (quote the reason: --reason "...")`);

  switch (action) {
    case "status": {
      const status = await createSwitchboardClient({ url: options.url, fetch: options.fetch }).emergency.status.query();
      return print(status, formatStatus(status));
    }
    case "freeze": {
      if (options.reason === undefined) throw new UsageError('freeze needs --reason "<why>" (it goes into the audit trail)');
      const client = await signedIn(options, io);
      const result = await client.emergency.freeze.mutate({
        reason: options.reason,
        // Any string: the server validates scopes and answers 400 naming the valid ones.
        ...(options.scope !== undefined ? { scope: options.scope as FreezeInput["scope"] } : {}),
        ...(options.expiresInSec !== undefined ? { expiresInSec: options.expiresInSec } : {}),
      });
      return print(result, formatChange(result, "freeze"));
    }
    case "unfreeze": {
      const client = await signedIn(options, io);
      const result = await client.emergency.unfreeze.mutate(options.reason !== undefined ? { reason: options.reason } : {});
      return print(result, formatChange(result, "unfreeze"));
    }
    default:
      throw new UsageError(`Unknown emergency command: ${action}`);
  }
}

/** Explains a failed call in one or a few lines. */
export function describeError(error: unknown, url: string): string {
  if (error instanceof TRPCClientError) {
    const data = error.data as { appCode?: string; httpStatus?: number; zodError?: { fieldErrors?: Record<string, string[]>; formErrors?: string[] } } | undefined;
    if (!data) return error.cause instanceof NotSwitchboard ? notSwitchboard(url, error.cause) : `error: cannot reach Switchboard at ${url}: ${error.message}`;
    const lines = [`error: ${error.message} (${data.appCode ?? "ERROR"}, HTTP ${data.httpStatus ?? "?"})`];
    // Each field's problem as the flag that set it; not for a field within a document (no
    // flag sets it), which the first line names by its whole path.
    for (const [field, messages] of Object.entries(data.zodError?.fieldErrors ?? {})) {
      if (error.message.startsWith(`${field}.`)) continue;
      for (const message of messages) lines.push(`  --${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${message}`);
    }
    for (const message of data.zodError?.formErrors ?? []) lines.push(`  ${message}`);
    return lines.join("\n");
  }
  if (error instanceof NotSwitchboard) return notSwitchboard(url, error);
  return `error: ${(error as Error).message ?? String(error)}`;
}

/** The address answered, so it was reached: what answered is not Switchboard's API. */
function notSwitchboard(url: string, answer: NotSwitchboard): string {
  return `error: ${url} answered, but it is not Switchboard: ${answer.message} (check --url or $SWITCHBOARD_URL)`;
}

export async function main(argv: string[], io: CliIo = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv, io.env);
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed.help || parsed.command.length === 0) {
    (parsed.help ? io.stdout : io.stderr).write(`${USAGE}\n`);
    return parsed.help ? 0 : 2;
  }
  const stray = unreadOption(parsed.command, parsed.given) ?? serverUrlProblem(parsed.options.url);
  if (stray) {
    io.stderr.write(`error: ${stray}\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return (await run(parsed.command, parsed.options, io)) ?? 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof CommandUsageError) {
      io.stderr.write(`error: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    // A server's message may repeat what a caller sent (a model name), or come from something that is not Switchboard.
    io.stderr.write(`${terminalText(describeError(error, parsed.options.url))}\n`);
    return 1;
  }
}
