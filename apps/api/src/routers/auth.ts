import { ZAuthMethods, ZAuthTokens, ZLoginInput, ZLogoutInput, ZRefreshInput, ZUser } from "@switchboard/schema";
import { z } from "zod";
import { ACCESS_COOKIE, REFRESH_COOKIE, sessionCookieOptions } from "../trpc/cookies.ts";
import type { Context } from "../trpc/context.ts";
import { publicProcedure, router, userProcedure } from "../trpc/init.ts";
import { AppError } from "../services/errors.ts";
import type { TAuthTokens } from "@switchboard/schema";

/** Mirrors the tokens into httpOnly cookies so the SPA (and its SSE streams) never hold them. */
function setSessionCookies(ctx: Context, tokens: TAuthTokens): void {
  const secure = ctx.req.cookies.secure;
  ctx.req.cookies.set(ACCESS_COOKIE, tokens.accessToken, sessionCookieOptions(tokens.expiresIn, secure));
  ctx.req.cookies.set(REFRESH_COOKIE, tokens.refreshToken, sessionCookieOptions(ctx.deps.env.REFRESH_TOKEN_TTL_SEC, secure));
}

// Sign-in and token calls go alone, never inside a batch with other calls (see Meta.batchable).
const alone = { feature: "auth", batchable: false } as const;

export const authRouter = router({
  login: publicProcedure
    .meta(alone)
    .input(ZLoginInput)
    .output(ZAuthTokens)
    .mutation(async ({ ctx, input }) => {
      const tokens = await ctx.deps.auth.login(input, { ip: ctx.req.ip, userAgent: ctx.req.userAgent });
      setSessionCookies(ctx, tokens);
      return tokens;
    }),

  refresh: publicProcedure
    .meta(alone)
    .input(ZRefreshInput.optional())
    .output(ZAuthTokens)
    .mutation(async ({ ctx, input }) => {
      const token = input?.refreshToken ?? ctx.req.cookies.get(REFRESH_COOKIE);
      if (!token) throw new AppError("UNAUTHORIZED", "No refresh token");
      const tokens = await ctx.deps.auth.refresh(token);
      setSessionCookies(ctx, tokens);
      return tokens;
    }),

  logout: publicProcedure
    .meta(alone)
    .input(ZLogoutInput)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      const claims = ctx.user ? { sessionId: ctx.user.sessionId } : null;
      await ctx.deps.auth.logout(claims, input?.refreshToken ?? ctx.req.cookies.get(REFRESH_COOKIE));
      const opts = { path: "/" };
      ctx.req.cookies.clear(ACCESS_COOKIE, opts);
      ctx.req.cookies.clear(REFRESH_COOKIE, opts);
      return { ok: true as const };
    }),

  /** Which sign-in buttons the sign-in page shows (password, single sign-on); answers while frozen, as sign-in does. */
  methods: publicProcedure.meta({ feature: "auth" }).output(ZAuthMethods).query(({ ctx }) => ctx.deps.sso.methods()),
  me: userProcedure
    .meta({ ...alone, keyScope: "any" })
    .output(ZUser)
    .query(({ ctx }) => ctx.deps.auth.me(ctx.user.id)),
});
