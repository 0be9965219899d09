/**
 * The consensus benchmark's upstream models: OpenAI-protocol servers from the test suite,
 * each answering after a fixed delay, in their own process (so the load generator's event
 * loop cannot delay them). Takes {"name": delayMs, ...} as its argument, prints
 * {"name": url, ...} as one JSON line, then serves until stdin closes.
 */
import { startFakeOpenAI } from "../test/fake-openai-server.ts";

const delays = JSON.parse(process.argv[2] ?? "{}") as Record<string, number>;
const fakes = await Promise.all(
  Object.entries(delays).map(([name, delayMs]) =>
    startFakeOpenAI({ name, defaultBehavior: { kind: "slow", delayMs, content: "The answer is 42." } }),
  ),
);
// Keep no history: the benchmark sends thousands of requests.
setInterval(() => fakes.forEach((f) => void (f.requests.length = 0)), 1_000).unref();
process.stdout.write(`${JSON.stringify(Object.fromEntries(fakes.map((f) => [f.name, f.url])))}\n`);
process.stdin.resume();
process.stdin.on("end", () => void Promise.all(fakes.map((f) => f.close())).then(() => process.exit(0)));
