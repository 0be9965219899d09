/**
 * Removes secret-looking strings from a logged body: API keys, bearer tokens, JWTs,
 * provider keys, and values of JSON fields whose name says "key", "token", "secret" or
 * "password". Conservative on purpose: a redacted log is still useful, a leaked key is not.
 */
const PATTERNS: RegExp[] = [
  /\bsb-[A-Za-z0-9_-]{16,}/g, // Switchboard API keys
  /\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}/g, // OpenAI-style provider keys
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/gi,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, // AWS access key ids
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];
/**
 * The text as tokens, left to right, each character read once: a JSON string followed by a
 * colon and a string value (its name is checked apart), any other string, or a run of other
 * characters. A string cut off by the end of the text (bodies are truncated), even after a
 * lone backslash, runs to the end, so no string is ever scanned twice.
 * Linear on purpose: a name pattern inside the string pattern made bodies like "tokentoken…"
 * or many escaped quotes backtrack quadratically (32 kB cost over 100 ms of the event loop
 * per logged request).
 */
const JSON_TOKEN = /"((?:[^"\\]|\\.)*)"(\s*:\s*)"(?:[^"\\]|\\.)*\\?(?:"|$)|"(?:[^"\\]|\\.)*\\?(?:"|$)|[^"]+/g;
const SECRET_NAME = /api[_-]?key|token|secret|password|authorization/i;

export const REDACTED = "[REDACTED]";

export function redactSecrets(text: string): string {
  let out = text.replace(JSON_TOKEN, (token, name: string | undefined, colon: string | undefined) =>
    name !== undefined && SECRET_NAME.test(name) ? `"${name}"${colon}"${REDACTED}"` : token,
  );
  for (const pattern of PATTERNS) out = out.replace(pattern, REDACTED);
  return out;
}
