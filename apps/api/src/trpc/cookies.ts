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
  get(name: string): string | undefined;
  set(name: string, value: string, opts: CookieOptions): void;
  clear(name: string, opts: CookieOptions): void;
}

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
