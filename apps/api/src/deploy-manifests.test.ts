/**
 * The Kubernetes manifests (deploy/kubernetes): rendered with `kubectl kustomize` as an
 * operator would, every object validated against the Kubernetes schemas (kubernetes-models
 * ships them compiled, offline) and type-checked against the API's types (kubernetes-types:
 * tsc's excess-property check rejects misspelt or unknown fields, which the schemas allow),
 * and every variable they set known to env.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ZEnv, parseEnv } from "./env.ts";
import { LARGE_BODY_POOL_FACTOR } from "./http/body-limits.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const variables = new Set(Object.keys(ZEnv.shape));
const kubectl = process.env.KUBECTL ?? "kubectl";

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: unknown } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  lifecycle?: { preStop?: unknown };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
type PodTemplate = { spec: { containers: Container[] } };

function render(dir: string): K8sObject[] {
  const result = spawnSync(kubectl, ["kustomize", `deploy/kubernetes/${dir}`], { cwd: root, encoding: "utf8", timeout: 60_000 });
  if (result.error) throw new Error(`${kubectl} is needed to render the manifests (apt-get install kubernetes-client): ${result.error.message}`);
  expect(result.status, result.stderr).toBe(0);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject).filter(Boolean);
}

/** The kubernetes-models class for an object: "apps/v1" Deployment → kubernetes-models/apps/v1. */
async function validate(object: K8sObject): Promise<void> {
  const models = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = models[object.kind];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

let checkCount = 0;
/** tsc diagnostics of `const o: <Kind> = <object>` for each object (unknown fields included). */
function typeErrors(objects: K8sObject[]): string[] {
  const source = objects
    .map((o, i) => {
      const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["core", o.apiVersion];
      return `import type { ${o.kind} as K${i} } from "kubernetes-types/${group!.split(".")[0]}/${version}";\nexport const o${i}: K${i} = ${JSON.stringify(o)};`;
    })
    .join("\n");
  // Inside the repository, so node_modules resolves; .build-test is ignored by git and lint.
  const dir = join(root, "apps/api/.build-test");
  const file = join(dir, `k8s-${process.pid}-${checkCount++}.ts`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, source);
  try {
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: [],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, " "));
  } finally {
    rmSync(file, { force: true });
  }
}

const podTemplateOf = (o: K8sObject) => (o.spec as { template: PodTemplate }).template;

describe.each(["base", "overlays/example"])("deploy/kubernetes/%s", (dir) => {
  const objects = render(dir);
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const containers = objects.filter((o) => o.kind === "Deployment" || o.kind === "Job").flatMap((o) => podTemplateOf(o).spec.containers);

  it("renders every piece of a production deployment", () => {
    for (const kind of ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Job", "ServiceAccount"]) {
      expect(byKind(kind).length, kind).toBeGreaterThanOrEqual(1);
    }
  });

  it("every object is valid against the Kubernetes schemas", async () => {
    for (const object of objects) await expect(validate(object), `${object.kind} ${object.metadata.name}`).resolves.toBeUndefined();
  });

  it("every object type-checks against the Kubernetes API types: no unknown or misspelt field", () => {
    expect(typeErrors(objects)).toEqual([]);
  }, 60_000);

  it("carries no secret value: the Secret is referenced, never defined", () => {
    expect(byKind("Secret")).toEqual([]);
    for (const c of containers) {
      expect(c.envFrom?.some((e) => e.secretRef?.name === "switchboard-secrets"), c.name).toBe(true);
      for (const e of c.env ?? []) expect(e.value === undefined || !/SECRET|PASSWORD|KEY|TOKEN|_URL$/.test(e.name), e.name).toBe(true);
    }
    const config = byKind("ConfigMap").find((o) => o.metadata.name === "switchboard-config")!;
    expect(Object.keys(config.data ?? {}).filter((name) => /SECRET|PASSWORD|API_KEY|TOKEN|_URL$/.test(name))).toEqual([]);
  });

  it("sets only variables env.ts knows, and the values parse in production", () => {
    const config = byKind("ConfigMap").find((o) => o.metadata.name === "switchboard-config")!;
    const names = [...Object.keys(config.data ?? {}), ...containers.flatMap((c) => (c.env ?? []).map((e) => e.name))];
    expect(names.filter((name) => !variables.has(name))).toEqual([]);
    // With the Secret's required keys filled in, env.ts accepts the configuration.
    const secrets = { DATABASE_URL: "postgresql://u:p@postgres:5432/sb", REDIS_URL: "redis://redis:6379", JWT_SECRET: "x".repeat(48), SECRETS_KEY: Buffer.alloc(32, 1).toString("base64") };
    expect(parseEnv({ ...config.data, ...secrets }).NODE_ENV).toBe("production");
  });

  it("the server probes /ready and /health, drains with preStop, has resources; the Job runs the migrations", () => {
    const api = podTemplateOf(byKind("Deployment")[0]!).spec.containers[0]!;
    expect(api.readinessProbe?.httpGet?.path).toBe("/ready");
    expect(api.livenessProbe?.httpGet?.path).toBe("/health");
    expect(api.lifecycle?.preStop).toBeDefined();
    // Kubernetes' SIGKILL comes after the preStop pause and the server's own drain.
    const config = byKind("ConfigMap").find((o) => o.metadata.name === "switchboard-config")!;
    const drainMs = (parseEnv({ SHUTDOWN_TIMEOUT_MS: config.data?.SHUTDOWN_TIMEOUT_MS }) as unknown as { SHUTDOWN_TIMEOUT_MS?: number }).SHUTDOWN_TIMEOUT_MS ?? 10_000;
    const preStopMs = Number((api.lifecycle?.preStop as { exec?: { command?: string[] } }).exec?.command?.[1] ?? 0) * 1000;
    const graceSec = (podTemplateOf(byKind("Deployment")[0]!).spec as unknown as { terminationGracePeriodSeconds: number }).terminationGracePeriodSeconds;
    expect(graceSec * 1000).toBeGreaterThan(preStopMs + drainMs);
    expect(api.resources?.requests?.cpu).toBeDefined();
    expect(api.resources?.limits?.memory).toBeDefined();
    const job = podTemplateOf(byKind("Job")[0]!).spec.containers[0]!;
    expect(job.command).toEqual(["node", "apps/api/dist/migrate.js"]);
    expect(readFileSync(`${root}apps/api/scripts/build.ts`, "utf8")).toContain('migrate: "src/migrate.ts"');
    expect(job.image).toBe(api.image);
  });

  it("the memory limit holds the large /v1 bodies OPENAI_MAX_BODY_MB lets in, beside the usual heap", () => {
    const api = podTemplateOf(byKind("Deployment")[0]!).spec.containers[0]!;
    const config = byKind("ConfigMap").find((o) => o.metadata.name === "switchboard-config")!;
    const limitMb = Number(/^(\d+)Mi$/.exec(String(api.resources?.limits?.memory))?.[1]);
    const bodyMb = parseEnv({ OPENAI_MAX_BODY_MB: config.data?.OPENAI_MAX_BODY_MB }).OPENAI_MAX_BODY_MB;
    // The pool's raw bytes, the parsed copy and the copy re-serialised for the provider (docs/security.md).
    const largeBodiesMb = LARGE_BODY_POOL_FACTOR * 3 * bodyMb;
    expect(config.data?.OPENAI_MAX_BODY_MB).toBeDefined();
    expect(limitMb).toBeGreaterThanOrEqual(largeBodiesMb + 200);
  });
});

describe("the schema validation itself", () => {
  it("rejects an object that breaks the schema", async () => {
    const broken = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "two" } } as unknown as K8sObject;
    await expect(validate(broken)).rejects.toThrow(/replicas|selector|template/);
  });

  it("rejects a misspelt field the schemas would let through", () => {
    const typo = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: { selector: {}, template: { spec: { containers: [{ name: "a", image: "b", readinesProbe: {} }] } } },
    } as unknown as K8sObject;
    expect(typeErrors([typo]).join("\n")).toMatch(/readinesProbe/);
  }, 60_000);
});

describe("deploy/grafana/switchboard.json", () => {
  it("queries only metrics the server exports", async () => {
    const { createMetricsRegistry } = await import("./infra/metrics-registry.ts");
    const defaults = (await createMetricsRegistry().getMetricsAsJSON()).map((m) => m.name);
    const ours = [...readFileSync(`${root}apps/api/src/services/metrics/prometheus.ts`, "utf8").matchAll(/name: "(switchboard_[a-z0-9_]+)"/g)].map((m) => m[1]!);
    const exported = new Set([...defaults, ...ours]);
    const dashboard = JSON.parse(readFileSync(`${root}deploy/grafana/switchboard.json`, "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/switchboard_[a-z0-9_]+/g)].map((m) => m[0])));
    expect(used.length).toBeGreaterThan(10);
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, "");
    expect([...new Set(used)].filter((name) => !exported.has(name) && !exported.has(base(name)))).toEqual([]);
  });
});
