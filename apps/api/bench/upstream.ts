/**
 * The benchmark's upstream model: the test suite's OpenAI-protocol server in its own process
 * (so it does not share an event loop with the load generator). Prints its URL, then serves
 * until stdin closes.
 */
import { startFakeOpenAI } from "../test/fake-openai-server.ts";

const fake = await startFakeOpenAI({ name: "bench", defaultBehavior: { kind: "ok", content: "Hello from the benchmark upstream." } });
// Keep no history: the benchmark sends hundreds of thousands of requests.
setInterval(() => void (fake.requests.length = 0), 1_000).unref();
process.stdout.write(`${fake.url}\n`);
process.stdin.resume();
process.stdin.on("end", () => void fake.close().then(() => process.exit(0)));
