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
const SECRET_FIELD = /("[^"]*(?:api[_-]?key|token|secret|password|authorization)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

export const REDACTED = "[REDACTED]";

export function redactSecrets(text: string): string {
  let out = text.replace(SECRET_FIELD, `$1"${REDACTED}"`);
  for (const pattern of PATTERNS) out = out.replace(pattern, REDACTED);
  return out;
}
