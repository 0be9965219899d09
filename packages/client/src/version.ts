// The package's version: inlined by the build (scripts/build.ts); read from package.json
// when running from source.
import { readFileSync } from "node:fs";

declare const SWITCHBOARD_CLIENT_VERSION: string | undefined;

export const CLIENT_VERSION: string =
  typeof SWITCHBOARD_CLIENT_VERSION === "string"
    ? SWITCHBOARD_CLIENT_VERSION
    : (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
