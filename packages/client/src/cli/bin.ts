// Entry point of the `switchboard` command (dist/cli.js in the published package).
import { CLIENT_VERSION } from "../version.ts";
import { main } from "./main.ts";

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  process.stdout.write(`switchboard ${CLIENT_VERSION}\n`);
} else {
  process.exitCode = await main(argv);
}
