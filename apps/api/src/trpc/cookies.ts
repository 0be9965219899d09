export const ACCESS_COOKIE = "sb_access";
export const REFRESH_COOKIE = "sb_refresh";

export interface CookieOptions {
  httpOnly?: boolean;
  sameSite?: "strict" | "lax" | "none";
  secure?: boolean;
  path?: string;
  maxAge?: number;
}

export interface CookieJar {
  /** The browser reaches us over HTTPS (see secureCookies): the session cookies set in answer are Secure. */
  secure: boolean;
  get(name: string): string | undefined;
  set(name: string, value: string, opts: CookieOptions): void;
  clear(name: string, opts: CookieOptions): void;
}

/**
 * Whether the browser reached us over HTTPS: directly, through a proxy trusted by TRUST_PROXY
 * (the request's protocol then comes from X-Forwarded-Proto), or through any proxy that says
 * so in X-Forwarded-Proto. Cookies are marked Secure exactly then. Not by NODE_ENV: a browser
 * drops a Secure cookie set over plain HTTP (loopback aside), so a production install reached
 * by a LAN address over HTTP signed in and was signed out again on the next call. Trusting an
 * untrusted proxy's header here is safe: a client forging it only makes its own cookies stricter.
 */
export function servedOverTls(request: { protocol: string; headers: Record<string, string | string[] | undefined> }): boolean {
  if (request.protocol === "https") return true;
  const forwarded = request.headers["x-forwarded-proto"];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim().toLowerCase();
  return first === "https";
}

/**
 * Whether the cookies set in answer to this request are Secure: it came over HTTPS (servedOverTls),
 * or PUBLIC_URL says this server is reached by https. The latter covers a TLS proxy that tells us
 * nothing (TLS passthrough, stunnel): the request looks like plain HTTP, yet the browser is on
 * HTTPS, and without it the session cookies would also go out over http.
 */
export function secureCookies(
  request: { protocol: string; headers: Record<string, string | string[] | undefined> },
  publicUrl: string | undefined,
): boolean {
  return servedOverTls(request) || publicUrlIsHttps(publicUrl);
}

const publicUrlIsHttps = (publicUrl: string | undefined) => (publicUrl ? URL.parse(publicUrl)?.protocol === "https:" : false);

/** The SPA's cookies: httpOnly (no script can read them) and SameSite=Strict (no CSRF). */
export function sessionCookieOptions(maxAgeSec: number, secure: boolean): CookieOptions {
  return { httpOnly: true, sameSite: "strict", secure, path: "/", maxAge: maxAgeSec };
}

/** Bearer header first (programmatic clients), then the SPA cookie. */
export function readAccessToken(authorization: string | undefined, cookie: string | undefined): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    return match?.[1];
  }
  return cookie;
}

export const CROSS_ORIGIN_MESSAGE =
  "Cross-origin request with the session cookie refused: call from the admin's own origin or send a Bearer token";

export interface OriginHeaders {
  authorization?: string | undefined;
  cookie?: string | undefined;
  origin?: string | undefined;
  "sec-fetch-site"?: string | undefined;
}

/**
 * True when a request is authenticated by the session cookies alone and does not provably
 * come from our own origin or one in CORS_ORIGINS. SameSite=Strict keeps other *sites* out,
 * not other origins of the same site (another port, a sibling subdomain): those send the
 * cookie too. The browser sets `Sec-Fetch-Site` and `Origin` itself (no page can forge
 * them); a request with neither is not a browser on our pages, and Bearer callers, which
 * no other page can make a browser send, are never affected.
 */
export function isCrossOriginCookieRequest(headers: OriginHeaders, selfOrigin: string, allowedOrigins: readonly string[]): boolean {
  if (headers.authorization) return false;
  const cookie = headers.cookie ?? "";
  if (!cookie.includes(`${ACCESS_COOKIE}=`) && !cookie.includes(`${REFRESH_COOKIE}=`)) return false;
  if (headers["sec-fetch-site"] === "same-origin") return false;
  const origin = headers.origin;
  if (origin && origin !== "null") return origin !== selfOrigin && !allowedOrigins.includes(origin);
  return headers["sec-fetch-site"] !== "none";
}
