/**
 * The server address a command talks to (--url or $SWITCHBOARD_URL), checked before anything
 * is sent. Each of these used to surface only as the request failed, as "cannot reach
 * Switchboard" (exit 1, as if the server were down) and with the address repeated as given:
 * `http://user:password@host` (a proxy's basic auth) was refused by fetch and its password
 * printed in the error, into a CI log. It is bad usage (exit 2), and no error repeats a
 * user name or password: sign-in is by token, never by the URL.
 */

/** How the address is named in a refusal: it may have come from either. */
const WHAT = "--url (or $SWITCHBOARD_URL)";

/** Why `raw` is not a server address a command can use, or undefined when it is. */
export function serverUrlProblem(raw: string): string | undefined {
  const shown = JSON.stringify(withoutUserInfo(raw));
  if (!URL.canParse(raw)) return `${WHAT} is not a URL, got ${shown} (expected e.g. http://127.0.0.1:3000)`;
  const url = new URL(raw);
  if (url.protocol !== "http:" && url.protocol !== "https:") return `${WHAT} must be an http:// or https:// address, got ${shown}`;
  if (url.username || url.password) {
    return `${WHAT} must not hold a user name or password, got ${shown}: sign in with $SWITCHBOARD_API_KEY or $SWITCHBOARD_TOKEN instead`;
  }
  if (url.search || url.hash) return `${WHAT} is the server's base address, without "?" or "#", got ${shown}`;
  return undefined;
}

/**
 * `raw` as an error may show it: no user name or password, however they were spelt. An http(s)
 * address is redacted as WHATWG URL (and so fetch) reads it, which finds user info without a
 * literal "//" too (`http:/user:pw@host`, `http:user:pw@host`, `http:\\user:pw@host`). Anything
 * else is refused whatever it holds, so everything up to its last "@" goes.
 */
export function withoutUserInfo(raw: string): string {
  const url = URL.parse(raw);
  if (url && (url.protocol === "http:" || url.protocol === "https:")) {
    if (!url.username && !url.password) return raw;
    url.username = "***";
    url.password = "";
    return url.href;
  }
  return raw.replace(/^((?:[^:/\\?#]*:)?[/\\]*).*@/s, "$1***@");
}
