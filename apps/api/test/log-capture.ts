import { Writable } from "node:stream";

export type LogLine = Record<string, unknown>;

/** A log destination that keeps what a real Switchboard writes: the JSON lines, and the raw text. */
export function captureLog(): { sink: Writable; lines: LogLine[]; text: () => string } {
  let text = "";
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const s = chunk.toString("utf8");
      text += s;
      for (const line of s.split("\n")) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { sink, lines, text: () => text };
}
