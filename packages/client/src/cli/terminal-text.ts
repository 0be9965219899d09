/**
 * What the CLI prints for a person is safe for their terminal. Much of it is text other people
 * chose: a request's model name (any string a caller sends, stored in the request log even when
 * no such model exists), a key's name, a server's error message. Printed raw, an escape
 * sequence in it was run by the terminal of the ADMIN running `logs tail`: it could clear the
 * screen or move the cursor to hide rows, retitle the window, or on some terminals write the
 * clipboard (OSC 52). Control characters are shown as `\x1b`-style escapes instead; `--json`
 * output needs nothing (JSON escapes them).
 */

/** C0 controls but tab and newline, DEL, and the C1 controls (a terminal reads 0x9b as ESC [). */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
/** The same, newline included: for what must stay one line (a log row). */
const CONTROL_OR_NEWLINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

const escaped = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/** `text` with every control character but tab and newline shown as an escape. */
export const terminalText = (text: string): string => text.replace(CONTROL, escaped);

/** `text` as one line: newlines (which could forge a row of its own) are escaped too. */
export const terminalLine = (text: string): string => text.replace(CONTROL_OR_NEWLINE, escaped);

/** A table cell: `text` as one line, cut or padded to `width` characters. */
export function pad(text: string, width: number): string {
  const line = terminalLine(text);
  return line.length >= width ? line.slice(0, width) : line + " ".repeat(width - line.length);
}

/** JSON with no raw control character: JSON escapes C0 itself, DEL and C1 are escaped here as \u00XX (the same value). */
export const terminalJson = (value: unknown, indent?: number): string =>
  JSON.stringify(value, null, indent).replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
