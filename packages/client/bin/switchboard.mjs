#!/usr/bin/env node
// The `switchboard` command inside the monorepo: runs the TypeScript source through tsx's
// loader. The published package runs the compiled dist/cli.js instead (see package.json).
import { register } from "tsx/esm/api";

register();
await import("../src/cli/bin.ts");
