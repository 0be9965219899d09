// Prisma 7 reads its configuration from here. The connection URL is only needed by the
// CLI's migrate commands, which cannot run on our machines (no native schema engine);
// migrations run through scripts/ on the WebAssembly engine instead.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
