/**
 * What PostgreSQL does with a migration script sent as one simple-protocol query (how the
 * schema engine runs migration.sql, migrations-adapters.ts): its statements run in one
 * implicit transaction, so a script that fails leaves nothing of itself behind. Unless it
 * takes charge itself: a script that opens, ends or saves a transaction, or a lone statement
 * that commits as it goes (an index built or dropped CONCURRENTLY, a procedure or DO block
 * that commits), can fail with part of it committed.
 */

const TRANSACTION_CONTROL = /^(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b/i;
/** Allowed to COMMIT inside only when it is the whole script (outside a transaction block). */
const MAY_COMMIT_ALONE = /^(?:CALL|DO)\b/i;

/** True when a failure of `script` rolls all of it back (see the header). */
export function runsAsOneTransaction(script: string): boolean {
  const code = codeOnly(script);
  if (/\bCONCURRENTLY\b/i.test(code)) return false;
  const statements = code.split(";").map((s) => s.trim()).filter(Boolean);
  if (statements.some((s) => TRANSACTION_CONTROL.test(s))) return false;
  return !(statements.length === 1 && MAY_COMMIT_ALONE.test(statements[0]!));
}

/**
 * The script with comments, string literals, quoted identifiers and dollar-quoted bodies
 * blanked out, so a keyword or ";" inside them is not read as a statement. A script
 * PostgreSQL cannot parse fails before any of it runs, so an unterminated quote (which blanks
 * the rest here) does no harm.
 */
function codeOnly(script: string): string {
  let out = "";
  let i = 0;
  while (i < script.length) {
    // E'…' and $tag$ start a token only where an identifier does not go on (a$b$ is a name).
    const afterWord = i > 0 && /[A-Za-z0-9_$]/.test(script[i - 1]!);
    const end =
      script.startsWith("--", i) ? lineEnd(script, i + 2)
      : script.startsWith("/*", i) ? blockCommentEnd(script, i)
      : /[Ee]/.test(script[i]!) && script[i + 1] === "'" && !afterWord ? quoted(script, i + 1, true)
      : script[i] === "'" || script[i] === '"' ? quoted(script, i, false)
      : script[i] === "$" && !afterWord ? dollarQuoted(script, i)
      : i;
    if (end > i) {
      out += " ";
      i = end;
    } else {
      out += script[i];
      i += 1;
    }
  }
  return out;
}

/** Index of the line end that closes a `--` comment: PostgreSQL ends one at \n or \r. */
function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (text[i] === "\n" || text[i] === "\r") return i;
  return text.length;
}

/** Index past a block comment opening at `start`: PostgreSQL's nest, `/* a /* b *\/ still a *\/`. */
function blockCommentEnd(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text.startsWith("/*", i)) {
      depth += 1;
      i += 2;
    } else if (text.startsWith("*/", i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return text.length;
}

/** Index just past the next `token` from `from` (or the end). */
function after(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from);
  return at < 0 ? text.length : at + token.length;
}

/** Index past a '…' or "…" token opening at `start` (doubled quotes escape; a backslash too in E'…'). */
function quoted(text: string, start: number, backslashEscapes: boolean): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length) {
    if (backslashEscapes && text[i] === "\\") i += 2;
    else if (text[i] === quote && text[i + 1] === quote) i += 2;
    else if (text[i] === quote) return i + 1;
    else i += 1;
  }
  return text.length;
}

/** Index past a $tag$…$tag$ body opening at `start`, or `start` when none opens there. */
function dollarQuoted(text: string, start: number): number {
  const tag = /\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/y;
  tag.lastIndex = start;
  const open = tag.exec(text)?.[0];
  return open ? after(text, open, start + open.length) : start;
}
