import { LOG_EXPORT_HEADERS } from "@switchboard/schema";
import { useState } from "react";
import { renewSession } from "./trpc.ts";

/** What a download ended with, to show beside its button: a refusal, or a file that was cut. */
export interface DownloadNote {
  kind: "error" | "warning";
  text: string;
}

const UNREACHABLE = "Cannot reach the Switchboard API. Check that the server is running.";

/** A HEAD answer to an export: the status and headers its GET would send, without the rows. */
async function headOf(url: string): Promise<Response> {
  const head = () => fetch(url, { method: "HEAD", credentials: "same-origin" });
  const res = await head();
  // An expired access cookie is renewed once, as API calls renew it; a session that cannot be is refused.
  return res.status === 401 && (await renewSession()) === "renewed" ? head() : res;
}

/**
 * Why the server refused: a HEAD answer has no body, so the words come from a GET, which a
 * refusal answers before any CSV (one that is let through after all is cancelled at once).
 */
async function refusalOf(url: string, head: Response): Promise<string> {
  const cancel = new AbortController();
  try {
    const res = await fetch(url, { credentials: "same-origin", signal: cancel.signal });
    const body = res.ok ? undefined : ((await res.json()) as { error?: { message?: string } });
    if (body?.error?.message) return body.error.message;
  } catch {
    // The status below says enough.
  } finally {
    cancel.abort();
  }
  if (head.status === 401) return "Your session has ended: sign in again to download.";
  if (head.status === 429) return `Too many downloads or streams are open: try again in ${head.headers.get("retry-after") ?? "a few"} seconds.`;
  return `The download was refused (HTTP ${head.status}).`;
}

/** Hands the URL to the browser's own download (the server names the file). */
function save(url: string): void {
  Object.assign(document.createElement("a"), { href: url, download: "" }).click();
}

/**
 * A CSV download that asks first. A plain download link saves whatever answers, so a refused
 * export (signed out, too many streams open, a malformed filter) became a file holding its
 * JSON error. Here a HEAD request checks the export, a refusal is shown in the page and nothing
 * is saved; a request-log export cut at its cap is said so beside the button, and still saved.
 * The note is `url`'s: once the filters change, it no longer shows.
 */
export function useCheckedDownload(url: string) {
  const [noted, setNoted] = useState<{ url: string; note: DownloadNote } | null>(null);
  const [busy, setBusy] = useState(false);
  const download = async () => {
    setBusy(true);
    setNoted(null);
    const note = (kind: DownloadNote["kind"], text: string) => setNoted({ url, note: { kind, text } });
    try {
      const head = await headOf(url);
      if (!head.ok) {
        note("error", await refusalOf(url, head));
        return;
      }
      if (head.headers.get(LOG_EXPORT_HEADERS.truncated) === "true") {
        const rows = Number(head.headers.get(LOG_EXPORT_HEADERS.rows)).toLocaleString();
        note("warning", `The file holds only the newest ${rows} of the matching requests (as many as one export holds): narrow the filters for the rest.`);
      }
      save(url);
    } catch {
      note("error", UNREACHABLE);
    } finally {
      setBusy(false);
    }
  };
  return { download, note: noted?.url === url ? noted.note : null, busy };
}
