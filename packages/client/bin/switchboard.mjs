#!/usr/bin/env node
// The `switchboard` command line. The CLI is TypeScript sharing the typed client's source,
// so it runs through tsx's loader (no build step, same as the API).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
