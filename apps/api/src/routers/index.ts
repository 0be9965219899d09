import { router } from "../trpc/init.ts";
import { authRouter } from "./auth.ts";
import { healthRouter } from "./health.ts";
import { usersRouter } from "./users.ts";

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  health: healthRouter,
});

export type AppRouter = typeof appRouter;
