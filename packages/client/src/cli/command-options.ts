/**
 * The options each command reads. parseArgs knows every option of every command, so on its
 * own it takes `keys list --tag x` or `logs export --limit 10` and the command goes on
 * without them: a script that asked for ten rows gets the whole log, a filter meant for one
 * command quietly does nothing in another. An option the command does not read is a usage
 * error instead (exit 2). The help text lists the same options per command, which a test
 * keeps true.
 */

/** Options every command takes. */
const EVERYWHERE = ["url", "help"] as const;

/** By "group action" (or the group alone); `json` where the command prints answers. */
export const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  "emergency status": ["json"],
  "emergency freeze": ["reason", "scope", "expires-in-sec", "json"],
  "emergency unfreeze": ["reason", "json"],
  "keys create": ["name", "scopes", "models", "tags", "rate-limit", "budget", "budget-period", "expires-at", "json"],
  "keys update": ["name", "scopes", "models", "tags", "rate-limit", "budget", "budget-period", "json"],
  "keys list": ["all", "json"],
  "keys revoke": ["json"],
  "logs tail": ["once", "limit", "model", "key", "status", "tag", "json"],
  "logs export": ["from", "to", "model", "key", "status", "tag"],
  usage: ["group-by", "from", "to", "tag", "csv", "json"],
  "tag-budgets list": ["json"],
  "tag-budgets set": ["budget", "budget-period", "keys-only", "anyone", "json"],
  "tag-budgets remove": ["json"],
  "cache purge": ["user", "all", "json"],
  "cache purges": ["limit", "json"],
  "providers list": ["json"],
  "providers add": ["kind", "base-url", "api-key", "models", "timeout-ms", "header", "api-version", "json"],
  "providers test": ["json"],
  "providers remove": ["json"],
  "models list": ["json"],
  "models set": ["target", "input-price", "output-price", "cached-input-price", "cache-ttl", "json"],
  "config export": ["yaml", "json"],
  "config apply": ["dry-run", "prune", "if-version", "yaml", "allow-env", "json"],
  "config history": ["limit", "json"],
};

/** Groups whose commands take no action word (`usage`, not `usage show`). */
const GROUPS_WITHOUT_ACTION = new Set(["usage"]);

/**
 * The message for the first option given that `command` does not read, or null. An unknown
 * command passes: the command's own dispatch names it as unknown, with its choices.
 */
export function unreadOption(command: readonly string[], given: readonly string[]): string | null {
  const [group = "", action = ""] = command;
  const name = GROUPS_WITHOUT_ACTION.has(group) ? group : `${group} ${action}`;
  const reads = COMMAND_OPTIONS[name];
  if (!reads) return null;
  const stray = given.find((option) => !(EVERYWHERE as readonly string[]).includes(option) && !reads.includes(option));
  if (stray === undefined) return null;
  const takes = reads.map((option) => `--${option}`).join(", ");
  return `${name} does not take --${stray}${takes ? ` (it takes ${takes})` : " (it takes no options)"}`;
}
