import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { COMMAND_OPTIONS } from "./command-options.ts";
import { main, USAGE } from "./main.ts";

/** Each command's block of the help text (its lines up to the next command), by "group action". */
function helpBlocks(): Map<string, string> {
  const commands = USAGE.slice(USAGE.indexOf("Commands:\n") + 10, USAGE.indexOf("\nOptions:"));
  const blocks = new Map<string, string>();
  let current = "";
  for (const line of commands.split("\n")) {
    if (/^ {2}[a-z]/.test(line)) {
      const words = line.trim().split(/\s+/).filter((w, i, all) => all.slice(0, i + 1).every((x) => /^[a-z][a-z-]*$/.test(x)));
      // freeze and unfreeze are listed under "emergency status" without their group.
      current = ["freeze", "unfreeze"].includes(words[0]!) ? `emergency ${words[0]}` : words.slice(0, 2).join(" ");
      blocks.set(current, "");
    }
    if (current) blocks.set(current, `${blocks.get(current)}${line}\n`);
  }
  return blocks;
}

/** Runs the CLI in this process; nothing is sent anywhere before the options are checked. */
async function run(argv: string[]) {
  const stderr = new PassThrough();
  let text = "";
  stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const code = await main(argv, { env: {}, stdin: new PassThrough(), stdout: new PassThrough(), stderr });
  return { code, stderr: text };
}

describe("the options each command reads", () => {
  it("are the ones its help lists (--json is listed once for all)", () => {
    const blocks = helpBlocks();
    expect([...blocks.keys()].sort()).toEqual(Object.keys(COMMAND_OPTIONS).sort());
    for (const [command, block] of blocks) {
      const listed = new Set([...block.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!));
      const reads = new Set(COMMAND_OPTIONS[command]!.filter((o) => o !== "json"));
      expect({ command, options: [...listed].sort() }).toEqual({ command, options: [...reads].sort() });
    }
  });

  it("an option the command does not read is a usage error (exit 2) naming the ones it takes", async () => {
    const tagged = await run(["keys", "list", "--tag", "team:a"]);
    expect(tagged.code).toBe(2);
    expect(tagged.stderr).toMatch(/^error: keys list does not take --tag \(it takes --all, --json\)\n/);
    const limited = await run(["logs", "export", "--limit", "10"]);
    expect(limited.code).toBe(2);
    expect(limited.stderr).toMatch(/^error: logs export does not take --limit \(it takes --from, --to, --model, --key, --status, --tag\)\n/);
    expect((await run(["config", "history", "--yaml"])).code).toBe(2);
    expect((await run(["emergency", "status", "--reason", "why"])).code).toBe(2);
    const both = await run(["usage", "--csv", "--json"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^error: usage takes --csv or --json, not both\n/);
  });

  it("options a command reads pass the check and reach the request", async () => {
    // Nothing listens on port 1: getting as far as the request is exit 1, not 2.
    const reached = await run(["emergency", "status", "--json", "--url", "http://127.0.0.1:1"]);
    expect(reached.stderr).toMatch(/^error: cannot reach Switchboard at http:\/\/127\.0\.0\.1:1/);
    expect(reached.code).toBe(1);
  });
});
