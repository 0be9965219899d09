// Generates the Prisma client without the native schema engine.
// `prisma generate` never calls the schema engine, but the CLI refuses to start unless the
// binary exists; it cannot be downloaded on our machines, so point it at any existing file.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const prismaBin = new URL("../node_modules/prisma/build/index.js", import.meta.url);
if (!existsSync(prismaBin)) {
  console.log("prisma-generate: prisma CLI not installed yet, skipping");
  process.exit(0);
}
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
};
const result = spawnSync(process.execPath, [prismaBin.pathname, "generate"], { stdio: "inherit", env });
process.exit(result.status ?? 1);
