/**
 * Parses a Prometheus text exposition with the Prometheus project's own Python client
 * parser (Debian package python3-prometheus-client, installed by .ci/run), which rejects
 * malformed lines and non-numeric values. Our own prom-client registry reading back what it
 * wrote would prove nothing; a JavaScript port we tried (parse-prometheus-text-format)
 * silently merges labelled histogram series.
 */
import { spawnSync } from "node:child_process";

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  /** A number, or "inf"/"-inf"/"nan" as text. */
  value: number | string;
}

export interface PromFamily {
  /** Counter families are named without their `_total` suffix, as the parser reports them. */
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

const SCRIPT = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value if math.isfinite(s.value) else str(s.value)}
        for s in f.samples]})
json.dump(out, sys.stdout)
`;

/** Debian's interpreter: the package installs the module for it, not for a pyenv python. */
const PYTHON = "/usr/bin/python3";

export function parsePrometheusText(text: string): PromFamily[] {
  const result = spawnSync(PYTHON, ["-c", SCRIPT], { input: text, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`cannot run ${PYTHON}: ${result.error.message}`);
  if (result.status !== 0) {
    if (result.stderr.includes("No module named 'prometheus_client'")) {
      throw new Error("python3-prometheus-client is missing: apt-get install python3-prometheus-client (.ci/run does)");
    }
    throw new Error(`the Prometheus parser rejected the exposition:\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as PromFamily[];
}

/** Every sample of the exposition, by sample name (e.g. "x_total", "y_bucket"). */
export function samplesNamed(families: PromFamily[], name: string): PromSample[] {
  return families.flatMap((f) => f.samples.filter((s) => s.name === name));
}

/** The sum of the samples named `name` that carry `labels`, as GET /metrics shows them now (0 when there is none yet). */
export async function scrapedSum(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const families = parsePrometheusText(await (await fetch(`${baseUrl}/metrics`)).text());
  return samplesNamed(families, name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + Number(s.value), 0);
}
