import { CONFIG_STEP_MARKS, type TConfigImportResult } from "@switchboard/schema";
import { useId, useState, type FormEvent } from "react";
import { Field, FormError } from "../../components/field.tsx";
import { messageOf } from "../../lib/errors.ts";
import { exportConfig, useImportConfig } from "./providers-data.ts";

/**
 * The pasted document — JSON when it starts with "{", YAML otherwise (as the CLI reads a
 * file on standard input) — or why the text is not one. The YAML parser loads only then.
 */
async function readDocument(text: string): Promise<{ document: unknown } | { error: string }> {
  if (text.trimStart().startsWith("{")) {
    try {
      return { document: JSON.parse(text) as unknown };
    } catch (error) {
      return { error: `Not JSON: ${(error as Error).message}` };
    }
  }
  const { readYamlDocument } = await import("@switchboard/schema/config-yaml");
  const read = readYamlDocument(text);
  if ("value" in read) return { document: read.value };
  const { line, column, kind } = read.fault;
  return { error: `${line === undefined ? "" : `Line ${line}, column ${column}: `}${kind}` };
}

/** The formats the export downloads as: one document, named alike, JSON or YAML. */
const FORMATS = {
  json: { label: "Download JSON", file: "switchboard-config.json", type: "application/json" },
  yaml: { label: "Download YAML", file: "switchboard-config.yaml", type: "application/yaml" },
} as const;
type Format = keyof typeof FORMATS;

/**
 * The export as a file's text. YAML is written by the CLI's own writer (`config export --yaml`
 * gives the same file), loaded only now, in the chunk the YAML preview loads too.
 */
async function writeDocument(document: unknown, format: Format): Promise<string> {
  if (format === "json") return `${JSON.stringify(document, null, 2)}\n`;
  const { writeYamlDocument } = await import("@switchboard/schema/config-yaml");
  return writeYamlDocument(document);
}

function Steps({ result }: { result: TConfigImportResult }) {
  if (result.steps.length === 0) return <p className="muted" data-testid="config-steps">Nothing to change ({result.unchanged} unchanged).</p>;
  return (
    <div data-testid="config-steps">
      <p>{result.dryRun ? `Applying would make ${result.steps.length} change(s):` : `Made ${result.steps.length} change(s) as version ${result.change?.version}; applied by ${result.change?.acknowledgedBy} of ${result.change?.liveInstances} instances:`}</p>
      <ul className="config-steps">
        {result.steps.map((s) => (
          <li key={`${s.kind}:${s.name}`} className={`config-step config-step-${s.action}`}>
            <code>{CONFIG_STEP_MARKS[s.action]}</code> {s.kind} <strong>{s.name}</strong>{s.fields.length > 0 ? `: ${s.fields.join(", ")}` : ""}
          </li>
        ))}
      </ul>
      <p className="muted">{result.unchanged} unchanged.</p>
    </div>
  );
}

/**
 * Configuration as code from the browser: download the providers and routes as a document
 * (JSON, or YAML for a repository that keeps it so), and apply one — previewed first, and
 * applied only if the configuration has not changed since, so Apply makes exactly the
 * changes shown. A SuperAdmin's (others only export).
 */
export function ConfigDocumentCard({ canApply }: { canApply: boolean }) {
  const titleId = useId();
  const importer = useImportConfig();
  const [text, setText] = useState("");
  const [prune, setPrune] = useState(false);
  const [textError, setTextError] = useState<string | undefined>();
  const [exportError, setExportError] = useState<string | null>(null);
  /**
   * The text, prune setting and configuration version the shown preview was made for: Apply
   * is offered for those only, and refused by the server (409) if the version has moved.
   */
  const [previewed, setPreviewed] = useState<{ text: string; prune: boolean; version: number } | null>(null);
  const result = importer.data;
  const ready = previewed !== null && previewed.text === text && previewed.prune === prune && result?.dryRun === true && result.steps.length > 0;

  const download = async (format: Format) => {
    setExportError(null);
    try {
      const written = await writeDocument(await exportConfig(), format);
      const url = URL.createObjectURL(new Blob([written], { type: FORMATS[format].type }));
      const link = Object.assign(window.document.createElement("a"), { href: url, download: FORMATS[format].file });
      link.click();
      // After the browser has taken the file (revoked at once, some browsers cancel it).
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      if (text.trim() === "") setText(written);
    } catch (error) {
      setExportError(messageOf(error));
    }
  };

  const send = (dryRun: boolean) => async (e?: FormEvent) => {
    e?.preventDefault();
    const read = await readDocument(text);
    setTextError("error" in read ? read.error : undefined);
    if ("error" in read) return;
    const ifVersion = dryRun ? undefined : previewed?.version;
    importer.mutate(
      { document: read.document as never, prune, dryRun, ...(ifVersion !== undefined ? { ifVersion } : {}) },
      { onSuccess: (result) => setPreviewed(dryRun ? { text, prune, version: result.basedOn } : null), onError: () => setPreviewed(null) },
    );
  };

  return (
    <section className="card config-card" aria-labelledby={titleId}>
      <h2 id={titleId}>Configuration as code</h2>
      <p className="muted">
        Providers and model routes as one JSON (or YAML) document, without secrets. Applying one changes only what differs, all or nothing, as one version.
        From a pipeline: <code>switchboard config apply gateway.json</code> with a key given <code>write:config</code>.
      </p>
      <div className="form-row">
        {(Object.keys(FORMATS) as Format[]).map((format) => (
          <button key={format} type="button" className="btn" onClick={() => void download(format)}>{FORMATS[format].label}</button>
        ))}
      </div>
      <FormError message={exportError} />
      {canApply ? (
        <form className="form" onSubmit={(e) => void send(true)(e)} noValidate aria-label="Apply a configuration document">
          <Field label="Document (JSON or YAML)" error={textError} hint="Paste an export, edited, or the YAML your repository keeps. A provider's apiKey or headers left out stay as set.">
            {(control) => <textarea {...control} rows={8} spellCheck={false} className="code-input" value={text} onChange={(e) => setText(e.target.value)} placeholder='{"providers": [...], "models": [...]}' />}
          </Field>
          <label className="check">
            <input type="checkbox" checked={prune} onChange={(e) => setPrune(e.target.checked)} />
            Also delete providers and routes it does not name (never <code>auto</code> or the template)
          </label>
          <FormError message={importer.isError ? messageOf(importer.error) : null} />
          {result ? <Steps result={result} /> : null}
          <div className="form-row">
            <button type="submit" className="btn" disabled={importer.isPending || text.trim() === ""}>Preview</button>
            <button type="button" className="btn btn-primary" disabled={importer.isPending || !ready} onClick={() => void send(false)()}>Apply</button>
          </div>
        </form>
      ) : null}
    </section>
  );
}
