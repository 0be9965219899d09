/**
 * `switchboard config export|apply|history`, spawned as a real process against a real server (the
 * embedded default): a pipeline's round trip with a `write:config` API key — export, edit,
 * preview, apply with a secret read from an environment variable it allows, apply again for
 * no change — the same in YAML, the mistakes a pipeline makes (a variable not set, a file that
 * is not JSON or YAML, a bad field), and a document from someone else's merge request naming
 * a variable the pipeline did not allow.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCli } from "../../test/run-cli.ts";
import { startTestApp, type TestApp } from "../../../../apps/api/test/app.ts";
import { startFakeOpenAI, type FakeOpenAIServer } from "../../../../apps/api/test/fake-openai-server.ts";

let t: TestApp;
let upstream: FakeOpenAIServer;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  upstream = await startFakeOpenAI({ name: "groq", defaultBehavior: { kind: "ok", content: "from groq" } });
  t = await startTestApp({ mode: "embedded" });
  dir = await mkdtemp(join(tmpdir(), "switchboard-config-"));
  const key = await t.client(await t.login()).keys.create.mutate({ name: PIPELINE_KEY, scopes: ["chat", "write:config"] });
  env = { SWITCHBOARD_URL: t.url, SWITCHBOARD_API_KEY: key.key };
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[], extraEnv: Record<string, string> = {}, stdin?: string) => runCli(args, { env: { ...env, ...extraEnv }, ...(stdin !== undefined ? { stdin } : {}) });

interface Document {
  providers: Array<Record<string, unknown>>;
  models: Array<{ name: string; targets: Array<Record<string, unknown>> }>;
}

/** The pipeline key's name: its newline would forge a row of `config history` if printed raw. */
const PIPELINE_KEY = "pipeline\nv999  2099-01-01 00:00:00  model.delete     fast  by someone";

/** The pipeline's secret, and the allowance that lets the document read it. */
const GROQ = { GROQ_API_KEY: "sk-from-the-pipeline-0123456789", SWITCHBOARD_CONFIG_ENV: "GROQ_API_KEY" };

describe("switchboard config (CLI)", () => {
  it("exports, previews, applies with a secret from an allowed variable, and applies again as no change", async () => {
    const exported = await cli(["config", "export"]);
    expect(exported.code, exported.stderr).toBe(0);
    const document = JSON.parse(exported.stdout) as Document;
    expect(document.models.map((m) => m.name)).toContain("auto");

    document.providers.push({ name: "groq", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "${GROQ_API_KEY}", models: ["llama-3"] });
    document.models.push({ name: "fast", targets: [{ provider: "groq", upstreamModel: "llama-3" }] });
    const file = join(dir, "gateway.json");
    await writeFile(file, JSON.stringify(document, null, 2));

    const preview = await cli(["config", "apply", file, "--dry-run"], GROQ);
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout).toContain("Dry run: would make 2 change(s):");
    expect(preview.stdout).toContain("  + provider groq");
    expect(preview.stdout).toContain("  + model fast");
    expect(preview.stdout).toContain("nothing was changed");
    expect((await t.client(await t.login()).models.list.query()).items.map((m) => m.name)).not.toContain("fast");
    const basedOn = /apply with --if-version (\d+) to make exactly these changes/.exec(preview.stdout)?.[1];
    expect(basedOn).toBeDefined();

    // The preview's version, once the configuration has moved on: refused, nothing changed.
    const root = t.client(await t.login());
    await root.models.upsert.mutate({ name: "moved-on", targets: [{ provider: "template", upstreamModel: "switchboard-template-1" }] });
    const stale = await cli(["config", "apply", file, "--if-version", basedOn!], GROQ);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`The configuration changed since version ${basedOn}`);
    expect((await root.models.list.query()).items.map((m) => m.name)).not.toContain("fast");
    await root.models.delete.mutate({ name: "moved-on" });
    expect((await cli(["config", "apply", file, "--if-version", "v3"])).code).toBe(2);

    const again = await cli(["config", "apply", file, "--dry-run"], GROQ);
    const current = /apply with --if-version (\d+)/.exec(again.stdout)![1]!;
    const applied = await cli(["config", "apply", file, "--if-version", current], GROQ);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/^Made 2 change\(s\) as version \d+; applied by 1 of 1 instances:/);
    expect(applied.stdout).not.toContain("sk-from-the-pipeline");

    const chat = await t.client(env["SWITCHBOARD_API_KEY"]).chat.send.mutate({ message: "hi", model: "fast" });
    expect(chat.content).toBe("from groq");
    expect(upstream.requests.at(-1)?.headers.authorization).toBe("Bearer sk-from-the-pipeline-0123456789");

    const history = await cli(["config", "history", "fast", "--limit", "5"]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/^v\d+ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}model\.upsert +fast {2}by root@switchboard\.test with key "pipeline\\x0av999 {2}2099-01-01 00:00:00 {2}model\.delete +fast {2}by someone" {2}\{"targets":/);
    // The key's name stayed inside its row: no line is the row it spells.
    expect(history.stdout.split("\n").filter((line) => line.startsWith("v999"))).toEqual([]);
    expect((await cli(["config", "history", "--limit", "0"])).code).toBe(2);

    // From standard input, the same document: nothing to change.
    const fromStdin = await cli(["config", "apply", "-"], GROQ, JSON.stringify(document));
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.stdout).toMatch(/^Nothing to change \(\d+ unchanged\)\.$/m);

    // --prune --json: the document without `fast` deletes it; the answer is the server's.
    const fewer = join(dir, "fewer.json");
    await writeFile(fewer, JSON.stringify({ ...document, models: document.models.filter((m) => m.name !== "fast") }));
    const pruned = await cli(["config", "apply", fewer, "--prune", "--json"], GROQ);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect((JSON.parse(pruned.stdout) as { steps: unknown[] }).steps).toEqual([{ action: "delete", kind: "model", name: "fast", fields: [] }]);
  });

  it("stops before sending anything when a variable is not set, the file is not JSON, or a field is wrong", async () => {
    const file = join(dir, "needs-secret.json");
    await writeFile(file, JSON.stringify({ providers: [{ name: "other", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "${OTHER_KEY}", models: [] }], models: [] }));
    const unset = await cli(["config", "apply", file, "--allow-env", "OTHER_KEY"]);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain("providers[0] (other).apiKey names ${OTHER_KEY}, but $OTHER_KEY is not set");

    // Its own credential is never sent upstream, whatever the document says.
    const own = join(dir, "own-credential.json");
    await writeFile(own, JSON.stringify({ providers: [{ name: "other", kind: "openai-compatible", baseUrl: upstream.url, headers: { "x-leak": "${SWITCHBOARD_API_KEY}" }, models: [] }], models: [] }));
    const refusedOwn = await cli(["config", "apply", own]);
    expect(refusedOwn.code).toBe(2);
    expect(refusedOwn.stderr).toContain("providers[0] (other).headers.x-leak names ${SWITCHBOARD_API_KEY}: the CLI's own settings are never sent to a provider");
    expect(refusedOwn.stderr).not.toContain(env["SWITCHBOARD_API_KEY"]);

    // Not JSON: where, never the text around it (an unquoted secret would land in CI logs).
    const notJson = join(dir, "broken.json");
    await writeFile(notJson, '{ "providers": [{ "apiKey": sk-live-SECRET-0123 }] }');
    // (The parser's own message would quote "sk-live-SE…" here.)
    const broken = await cli(["config", "apply", notJson]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/broken\.json is not JSON/);
    expect(broken.stderr).not.toMatch(/sk-live|SE\b|SECRET/);

    // Nested past what the server takes: said as such (it overflowed the client's stack, told as "cannot reach").
    const deep = join(dir, "deep.json");
    await writeFile(deep, `{"providers":${"[".repeat(100_000)}${"]".repeat(100_000)},"models":[]}`);
    const tooDeep = await cli(["config", "apply", deep, "--dry-run"]);
    expect(tooDeep.code).toBe(2);
    expect(tooDeep.stderr.split("\n")[0]).toBe('error: ' + deep + ': "providers" is nested more than 128 levels deep (a document needs five)');
    // Counted as the server counts the request that carries it: one level short of its bound
    // goes to the server (and is refused there for its shape), the bound itself is refused here.
    const nested = async (arrays: number) => {
      await writeFile(deep, `{"providers":${"[".repeat(arrays)}${"]".repeat(arrays)},"models":[]}`);
      return cli(["config", "apply", deep, "--dry-run"]);
    };
    const atBound = await nested(127);
    expect(atBound.code).toBe(2);
    expect(atBound.stderr).toContain("nested more than 128 levels deep");
    const underBound = await nested(126);
    expect(underBound.code).toBe(1);
    expect(underBound.stderr).not.toContain("nested more than");

    const missing = await cli(["config", "apply", join(dir, "absent.json")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read");

    const badUrl = join(dir, "bad-url.json");
    await writeFile(badUrl, JSON.stringify({ providers: [{ name: "other", kind: "openai-compatible", baseUrl: "not a url", models: [] }], models: [] }));
    const refused = await cli(["config", "apply", badUrl]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("document.providers.0.baseUrl: baseUrl must be an http(s) URL");
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect((await t.client(await t.login()).providers.list.query()).items.map((p) => p.name)).not.toContain("other");
  });

  it("applies a document past 1 MB; one past what Switchboard takes stops before sending, and a proxy's 413 says which limit to raise", async () => {
    const providers = Array.from({ length: 150 }, (_, i) => ({
      name: `big-${i}`,
      kind: "openai-compatible",
      baseUrl: upstream.url,
      models: Array.from({ length: 120 }, (_, j) => `vendor/some-rather-long-model-name-${j}-instruct-v1-0613-preview`),
    }));
    const big = join(dir, "big.json");
    await writeFile(big, JSON.stringify({ providers, models: [] }));
    const previewed = await cli(["config", "apply", big, "--dry-run"]);
    expect(previewed.code, previewed.stderr).toBe(0);
    expect(previewed.stdout).toContain("Dry run: would make 150 change(s):");

    // Every header value long: over 16 MB as JSON, refused here, nothing sent.
    const headers = Object.fromEntries(Array.from({ length: 32 }, (_, h) => [`x-h-${h}`, "v".repeat(4_000)]));
    const huge = join(dir, "huge.json");
    await writeFile(huge, JSON.stringify({ providers: providers.map((p) => ({ ...p, headers })), models: [] }));
    const tooBig = await cli(["config", "apply", huge, "--dry-run"]);
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr.split("\n")[0]).toMatch(/huge\.json: the document is \d+(\.\d{1,2})? MB as JSON, over the 16 MB one apply takes: apply it in parts \(each without --prune\)$/);

    // An ingress in front with its own 1 MB limit, answering in HTML.
    const proxy = createServer((_request, response) => response.writeHead(413, { "content-type": "text/html" }).end("<html><body>413 Request Entity Too Large</body></html>"));
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const behindProxy = await cli(["config", "apply", big, "--dry-run"], { SWITCHBOARD_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      expect(behindProxy.code).toBe(1);
      expect(behindProxy.stderr).toContain("was refused as too large (HTTP 413, not from Switchboard)");
      expect(behindProxy.stderr).toContain("raise its request body limit for /trpc/config.import to at least 17 MB");
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("a source with no end (a device, a producer that never stops) is refused once it passes 64 MB, not read until memory runs out", async () => {
    const device = await cli(["config", "apply", "/dev/zero", "--dry-run"]);
    expect(device.code).toBe(2);
    expect(device.stderr.split("\n")[0]).toBe("error: /dev/zero holds more than 64 MB: no document apply takes is that large (16 MB as JSON)");
    const piped = await cli(["config", "apply", "-", "--dry-run"], {}, `{"providers": [], "models": [], "pad": "${"x".repeat(64 * 1024 * 1024)}"}`);
    expect(piped.code).toBe(2);
    expect(piped.stderr.split("\n")[0]).toBe("error: standard input holds more than 64 MB: no document apply takes is that large (16 MB as JSON)");
  });

  it("writes and reads YAML: the export applies back as no change, a secret comes from the environment, a broken file is told by position", async () => {
    const exported = await cli(["config", "export", "--yaml"]);
    expect(exported.code, exported.stderr).toBe(0);
    const asJson = JSON.parse((await cli(["config", "export"])).stdout) as Document;
    expect(parseYaml(exported.stdout)).toEqual(asJson);
    expect((await cli(["config", "export", "--yaml", "--json"])).code).toBe(2);

    const file = join(dir, "gateway.yaml");
    await writeFile(file, exported.stdout);
    const same = await cli(["config", "apply", file]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^Nothing to change \(\d+ unchanged\)\.$/m);

    // Written by hand, as a pipeline's repository holds it: comments, an unquoted ${NAME}.
    const edited = `${exported.stdout}# added by hand
`.replace(/^models:/m, `  - name: yamlgroq  # a second account
    kind: openai-compatible
    baseUrl: ${upstream.url}
    apiKey: \${YAML_GROQ_KEY}
    models: [llama-3]
models:`);
    await writeFile(file, edited);
    const applied = await cli(["config", "apply", file, "--allow-env", "YAML_GROQ_KEY"], { YAML_GROQ_KEY: "sk-yaml-pipeline-0123456789" });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain("  + provider yamlgroq");
    const listed = (await t.client(await t.login()).providers.list.query()).items.find((p) => p.name === "yamlgroq");
    expect(listed?.apiKeyMasked).toMatch(/6789$/);

    // From standard input too (not starting with "{": read as YAML).
    const stdin = await cli(["config", "apply", "-", "--dry-run", "--allow-env", "YAML_GROQ_KEY"], { YAML_GROQ_KEY: "sk-yaml-pipeline-0123456789" }, edited);
    expect(stdin.code, stdin.stderr).toBe(0);
    expect(stdin.stdout).toMatch(/^Nothing to change/m);

    // Broken: where and what kind, never the text (a secret may sit on that line).
    const broken = join(dir, "broken.yaml");
    await writeFile(broken, "providers:\n  - name: a\n    apiKey: sk-live-SECRET-0123\n    apiKey: sk-live-SECRET-0123\nmodels: []\n");
    const duplicate = await cli(["config", "apply", broken]);
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toContain("broken.yaml, line 4, column 5: not valid YAML (duplicate key)");
    expect(duplicate.stderr).not.toMatch(/sk-live|SECRET/);

    // Plain data only: a language tag or an older YAML type is refused, and so is an alias bomb.
    for (const tagged of ["!!js/function 'return 1'", "!!binary c2stbGl2ZQ==", "!!set { a }"]) {
      await writeFile(broken, `providers: ${tagged}\nmodels: []\n`);
      expect((await cli(["config", "apply", broken])).stderr).toMatch(/broken\.yaml, line 1, column \d+: not valid YAML \(tag resolve failed\)/);
    }
    await writeFile(broken, "providers: *nowhere\nmodels: []\n");
    expect((await cli(["config", "apply", broken])).stderr).toContain("broken.yaml: not valid YAML (unresolved alias)");
    // A blank apiKey reads as null (remove the key): said, not done.
    await writeFile(broken, "providers:\n  - name: yamlgroq\n    apiKey:\n    kind: openai-compatible\nmodels: []\n");
    const blank = await cli(["config", "apply", broken]);
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain("broken.yaml, line 3, column 5: a blank apiKey reads as null");
    expect((await t.client(await t.login()).providers.list.query()).items.find((p) => p.name === "yamlgroq")?.apiKeyMasked).toMatch(/6789$/);
    // A merge key: YAML 1.2 does not merge, so it would reach the server as a field named "<<".
    await writeFile(broken, "x-base: &base\n  kind: openai-compatible\nproviders:\n  - name: merged\n    <<: *base\n    baseUrl: http://127.0.0.1:9/v1\n    models: []\nmodels: []\n");
    const merged = await cli(["config", "apply", broken, "--dry-run"]);
    expect(merged.code).toBe(2);
    expect(merged.stderr.split("\n")[0]).toBe(`error: ${broken}, line 5, column 5: merge keys are not supported: write the fields out`);
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`), "providers: []", "models: []"].join("\n");
    await writeFile(broken, bomb);
    const exploded = await cli(["config", "apply", broken]);
    expect(exploded.code).toBe(2);
    expect(exploded.stderr).toContain("broken.yaml: too many aliases expanded (at most 100)");

    // --yaml reads any file as YAML; a byte-order mark is no part of a JSON file.
    const named = join(dir, "gateway.txt");
    await writeFile(named, edited);
    const forced = await cli(["config", "apply", named, "--yaml", "--dry-run"], { YAML_GROQ_KEY: "sk-yaml-pipeline-0123456789", SWITCHBOARD_CONFIG_ENV: "YAML_*" });
    expect(forced.code, forced.stderr).toBe(0);
    await writeFile(join(dir, "bom.json"), `\uFEFF${JSON.stringify(asJson)}`);
    const bom = await cli(["config", "apply", join(dir, "bom.json"), "--dry-run"]);
    expect(bom.code, bom.stderr).toBe(0);
  });

  it("fills a placeholder only from a variable the operator allows: by name, by prefix, in SWITCHBOARD_CONFIG_ENV; never SWITCHBOARD_*", async () => {
    // A merge request's document: the runner's cloud credential as the key of a provider it points anywhere.
    const credential = "aws-runner-credential-0123456789";
    const runner = { AWS_SECRET_ACCESS_KEY: credential, GITHUB_TOKEN: "ghp-runner-token-0123456789" };
    const file = join(dir, "merge-request.json");
    await writeFile(file, JSON.stringify({ providers: [{ name: "mr", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "${AWS_SECRET_ACCESS_KEY}", models: ["llama-3"] }], models: [] }));
    const root = t.client(await t.login());
    const before = (await cli(["config", "export"])).stdout;
    const versionBefore = (await root.config.history.query({ limit: 1 })).items[0]?.version;
    const sentBefore = upstream.requests.length;

    // Not allowed — no allowance, another name, a prefix that does not cover it; a dry run the same.
    const refusedLine =
      "error: providers[0] (mr).apiKey names ${AWS_SECRET_ACCESS_KEY}, which config apply reads only when allowed: add --allow-env AWS_SECRET_ACCESS_KEY (or list it in SWITCHBOARD_CONFIG_ENV)";
    for (const [args, extra] of [
      [[], {}],
      [["--dry-run"], {}],
      [["--allow-env", "OPENAI_*,AWS_REGION", "--allow-env", "GITHUB_TOKEN"], { SWITCHBOARD_CONFIG_ENV: "AWS_ACCESS_KEY_ID" }],
      [["--dry-run", "--allow-env", "AWS_SECRET"], {}],
    ] as Array<[string[], Record<string, string>]>) {
      const refused = await cli(["config", "apply", file, ...args], { ...runner, ...extra });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr.split("\n")[0]).toBe(refusedLine);
      expect(refused.stdout + refused.stderr).not.toContain(credential);
    }
    // Nothing changed, nothing sent.
    expect((await cli(["config", "export"])).stdout).toBe(before);
    expect((await root.config.history.query({ limit: 1 })).items[0]?.version).toBe(versionBefore);
    expect(upstream.requests.length).toBe(sentBefore);

    // Allowed by name (a dry run, then the apply), by prefix, and in SWITCHBOARD_CONFIG_ENV.
    const byName = await cli(["config", "apply", file, "--dry-run", "--allow-env", "AWS_SECRET_ACCESS_KEY"], runner);
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stdout).toContain("  + provider mr");
    const byPrefix = await cli(["config", "apply", file, "--allow-env", "OPENAI_*", "--allow-env", "AWS_*"], runner);
    expect(byPrefix.code, byPrefix.stderr).toBe(0);
    expect(byPrefix.stdout).toContain("  + provider mr");
    expect((await root.providers.list.query()).items.find((p) => p.name === "mr")?.apiKeyMasked).toMatch(/6789$/);
    const fromVariable = await cli(["config", "apply", file], { ...runner, SWITCHBOARD_CONFIG_ENV: "OPENAI_API_KEY, AWS_SECRET_*" });
    expect(fromVariable.code, fromVariable.stderr).toBe(0);
    expect(fromVariable.stdout).toMatch(/^Nothing to change/m);
    for (const run of [byName, byPrefix, fromVariable]) expect(run.stdout + run.stderr).not.toContain(credential);

    // The CLI's own key: refused however it is allowed, and never printed.
    const own = join(dir, "merge-request-own.json");
    await writeFile(own, JSON.stringify({ providers: [{ name: "mr", kind: "openai-compatible", baseUrl: upstream.url, apiKey: "${AWS_SECRET_ACCESS_KEY}", headers: { "x-leak": "${SWITCHBOARD_API_KEY}" }, models: ["llama-3"] }], models: [] }));
    for (const [args, extra] of [
      [["--allow-env", "*"], {}],
      [["--allow-env", "AWS_SECRET_ACCESS_KEY,SWITCHBOARD_API_KEY", "--dry-run"], {}],
      [["--allow-env", "SWITCHBOARD_*,AWS_*"], {}],
      [[], { SWITCHBOARD_CONFIG_ENV: "*" }],
    ] as Array<[string[], Record<string, string>]>) {
      const refused = await cli(["config", "apply", own, ...args], { ...runner, ...extra });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr.split("\n")[0]).toBe(
        "error: providers[0] (mr).headers.x-leak names ${SWITCHBOARD_API_KEY}: the CLI's own settings are never sent to a provider (SWITCHBOARD_*, whatever --allow-env says)",
      );
      expect(refused.stdout + refused.stderr).not.toContain(env["SWITCHBOARD_API_KEY"]);
      expect(refused.stdout + refused.stderr).not.toContain(credential);
    }

    // Anywhere but an apiKey or a header value, a placeholder is refused even when allowed;
    // an allowance that is not a name is a usage error.
    const misplaced = join(dir, "merge-request-url.json");
    await writeFile(misplaced, JSON.stringify({ providers: [{ name: "mr", kind: "openai-compatible", baseUrl: "https://example.com/${GITHUB_TOKEN}/v1", models: ["llama-3"] }], models: [] }));
    const inUrl = await cli(["config", "apply", misplaced, "--allow-env", "*"], runner);
    expect(inUrl.code).toBe(2);
    expect(inUrl.stderr.split("\n")[0]).toBe("error: providers[0].baseUrl holds ${GITHUB_TOKEN}: placeholders are filled only in a provider's apiKey and header values");
    expect(inUrl.stderr).not.toContain("ghp-runner");
    const notAName = await cli(["config", "apply", file, "--allow-env", "${AWS_SECRET_ACCESS_KEY}"], runner);
    expect(notAName.code).toBe(2);
    expect(notAName.stderr.split("\n")[0]).toBe('error: --allow-env: "${AWS_SECRET_ACCESS_KEY}" is not a variable name (NAME, or a prefix such as OPENAI_*, optionally bound to a host: NAME@api.example.com)');
    const mr = (await root.providers.list.query()).items.find((p) => p.name === "mr");
    expect(mr?.baseUrl).toBe(upstream.url);
    expect(mr?.headers).toEqual({});
  });

  it("fills a variable bound to a host only while the provider points there: a document that moves it is refused before anything is sent", async () => {
    const key = "sk-bound-to-its-host-0123456789";
    const host = new URL(upstream.url).host;
    const document = (baseUrl: string) => JSON.stringify({ providers: [{ name: "bound", kind: "openai-compatible", baseUrl, apiKey: "${BOUND_KEY}", models: ["llama-3"] }], models: [] });
    const file = join(dir, "bound.json");
    await writeFile(file, document(upstream.url));
    const root = t.client(await t.login());

    const applied = await cli(["config", "apply", file, "--allow-env", `BOUND_KEY@${host}`], { BOUND_KEY: key });
    expect(applied.code, applied.stderr).toBe(0);
    expect((await root.providers.list.query()).items.find((p) => p.name === "bound")?.apiKeyMasked).toMatch(/6789$/);

    // The merge request moves the provider to its author's host and keeps the placeholder.
    const before = (await cli(["config", "export"])).stdout;
    const versionBefore = (await root.config.history.query({ limit: 1 })).items[0]?.version;
    await writeFile(file, document("https://collector.example.net/v1"));
    for (const extra of [{}, { SWITCHBOARD_CONFIG_ENV: `BOUND_*@${host}` }] as Array<Record<string, string>>) {
      const args = "SWITCHBOARD_CONFIG_ENV" in extra ? [] : ["--allow-env", `BOUND_KEY@${host}`];
      const moved = await cli(["config", "apply", file, "--dry-run", ...args], { BOUND_KEY: key, ...extra });
      expect(moved.code, moved.stderr).toBe(2);
      expect(moved.stderr.split("\n")[0]).toBe(
        `error: providers[0] (bound).apiKey names \${BOUND_KEY}, which is allowed only for ${host}, and providers[0] (bound) points at https://collector.example.net: if the key belongs there, allow it for that host too`,
      );
      expect(moved.stdout + moved.stderr).not.toContain(key);
    }
    expect((await cli(["config", "export"])).stdout).toBe(before);
    expect((await root.config.history.query({ limit: 1 })).items[0]?.version).toBe(versionBefore);
  });
});
