import { ZHealth } from "@switchboard/schema";
import { publicProcedure, router } from "../trpc/init.ts";
import { health } from "../services/health-service.ts";

export const healthRouter = router({
  check: publicProcedure.meta({ feature: "ops" }).output(ZHealth).query(({ ctx }) => health(ctx.deps)),
});
