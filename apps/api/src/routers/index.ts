import { router } from "../trpc/init.ts";
import { authRouter } from "./auth.ts";
import { cacheRouter } from "./cache.ts";
import { chatRouter } from "./chat.ts";
import { configRouter } from "./config.ts";
import { consensusRouter } from "./consensus.ts";
import { emergencyRouter } from "./emergency.ts";
import { healthRouter } from "./health.ts";
import { keysRouter } from "./keys.ts";
import { logsRouter, usageRouter } from "./logs.ts";
import { metricsRouter } from "./metrics.ts";
import { modelsRouter } from "./models.ts";
import { providersRouter } from "./providers.ts";
import { tagBudgetsRouter } from "./tag-budgets.ts";
import { usersRouter } from "./users.ts";

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  health: healthRouter,
  chat: chatRouter,
  consensus: consensusRouter,
  emergency: emergencyRouter,
  metrics: metricsRouter,
  providers: providersRouter,
  models: modelsRouter,
  keys: keysRouter,
  logs: logsRouter,
  usage: usageRouter,
  tagBudgets: tagBudgetsRouter,
  config: configRouter,
  cache: cacheRouter,
});

export type AppRouter = typeof appRouter;
