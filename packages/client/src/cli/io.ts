/** The CLI's view of the terminal, injectable so tests can drive it without a TTY. */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";

export interface CliIo {
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Prompter {
  ask(question: string): Promise<string>;
  /** Like ask, but what is typed is not echoed (passwords). */
  askHidden(question: string): Promise<string>;
  close(): void;
}

/**
 * Questions go to stderr so stdout carries only results (`--json | jq` keeps working).
 * One readline over stdin for every question: piped answers that arrive together are not
 * lost between two questions.
 */
export function createPrompter(io: CliIo): Prompter {
  let muted = false;
  const echo = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) io.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: io.stdin, output: echo, terminal: io.stdin.isTTY === true });
  const lines = rl[Symbol.asyncIterator]();
  const next = async (question: string, hidden: boolean) => {
    io.stderr.write(question);
    muted = hidden;
    try {
      const line = await lines.next();
      if (line.done) throw new Error("no answer on standard input");
      return line.value.trim();
    } finally {
      if (hidden && muted) io.stderr.write("\n");
      muted = false;
    }
  };
  return {
    ask: (q) => next(q, false),
    askHidden: (q) => next(q, true),
    close: () => rl.close(),
  };
}
