/** The SDK's transport against a real local server: the fetch semantics the SDK relies on. */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedPortUrl, startFakeOpenAI, type FakeOpenAIServer } from "../../test/fake-openai-server.ts";
import { nodeHttpFetch } from "./node-http-fetch.ts";

let fake: FakeOpenAIServer;
beforeAll(async () => void (fake = await startFakeOpenAI({ name: "transport" })));
afterAll(async () => fake.close());

const post = (body: unknown, init: RequestInit = {}) =>
  nodeHttpFetch(`${fake.url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "x-test": "1" }, body: JSON.stringify(body), ...init });

describe("nodeHttpFetch", () => {
  it("sends method, headers and body, and returns status, headers and a readable body", async () => {
    fake.enqueue({ kind: "status", status: 429, retryAfter: "3" });
    const limited = await post({ model: "m", messages: [] });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    const ok = await post({ model: "m", messages: [{ role: "user", content: "hi" }] });
    expect(((await ok.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe("Hello from transport.");
    expect(fake.requests.at(-1)?.headers["x-test"]).toBe("1");
    expect(fake.requests.at(-1)?.body.model).toBe("m");
  });

  it("a whole (non-SSE) body reads like fetch's: json/text/arrayBuffer once, clone before, body as a stream", async () => {
    const json = await post({ model: "m", messages: [] });
    expect(json.bodyUsed).toBe(false);
    const copy = json.clone();
    const parsed = (await json.json()) as { object: string };
    expect(parsed.object).toBe("chat.completion");
    expect(json.bodyUsed).toBe(true);
    await expect(json.text()).rejects.toBeInstanceOf(TypeError);
    expect(() => json.clone()).toThrow(TypeError);
    expect(JSON.parse(await copy.text())).toEqual(parsed);
    const viaStream = await post({ model: "m", messages: [] });
    expect(JSON.parse(new TextDecoder().decode(await new Response(viaStream.body).arrayBuffer())).object).toBe("chat.completion");
    const bytes = await (await post({ model: "m", messages: [] })).arrayBuffer();
    expect(JSON.parse(new TextDecoder().decode(bytes)).object).toBe("chat.completion");
  });

  it("rejects with a TypeError when the connection is refused", async () => {
    await expect(nodeHttpFetch(`${await closedPortUrl()}/chat/completions`, { method: "POST", body: "{}" })).rejects.toBeInstanceOf(TypeError);
  });

  it("an abort before the response rejects with AbortError; during the body it errors the stream", async () => {
    const early = new AbortController();
    fake.enqueue({ kind: "slow", delayMs: 5_000 });
    const pending = post({ model: "m", messages: [], stream: true }, { signal: early.signal });
    const index = fake.requests.length;
    await fake.waitForRequests(index + 1);
    early.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await fake.waitForAbort(index);

    const late = new AbortController();
    fake.enqueue({ kind: "stall", afterChunks: 1 });
    const res = await post({ model: "m", messages: [], stream: true }, { signal: late.signal });
    const reader = res.body!.getReader();
    await reader.read();
    late.abort();
    // Chunks already received may still be read; then the stream errors, never ends cleanly.
    const drain = async () => {
      for (;;) if ((await reader.read()).done) return "ended cleanly";
    };
    await expect(drain()).rejects.toMatchObject({ name: "AbortError" });
    await fake.waitForAbort(index + 1);
  });

  it("an already aborted signal rejects at once without a request", async () => {
    const before = fake.requests.length;
    await expect(post({}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    expect(fake.requests).toHaveLength(before);
  });

  it("a JSON body cut or aborted midway rejects (TypeError / AbortError), never resolves with a partial body", async () => {
    let held: ServerResponse | undefined;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"choices":[');
      held = res;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const cut = nodeHttpFetch(url, { method: "POST", body: "{}" });
      await expect.poll(() => held).toBeDefined();
      held!.destroy();
      await expect(cut).rejects.toBeInstanceOf(TypeError);

      held = undefined;
      const controller = new AbortController();
      const aborted = nodeHttpFetch(url, { method: "POST", body: "{}", signal: controller.signal });
      await expect.poll(() => held).toBeDefined();
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
