// Entry point of the `switchboard` command (dist/cli.js in the published package).
import { CLIENT_VERSION } from "../version.ts";
import { main } from "./main.ts";

// A reader that stopped (`switchboard logs export | head`) has what it wanted: end quietly, as
// a Unix tool ends on SIGPIPE, instead of an unhandled EPIPE's stack trace and exit 1, which
// the commands keep for a request that failed.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  process.stdout.write(`switchboard ${CLIENT_VERSION}\n`);
} else {
  process.exitCode = await main(argv);
}
