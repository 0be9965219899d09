import type { DownloadNote as Note } from "../lib/checked-download.ts";

/** Beside a download button: why the download was refused (an alert), or that its file was cut. */
export function DownloadNote({ note }: { note: Note | null }) {
  if (!note) return null;
  return note.kind === "error" ? (
    <p className="alert alert-error table-message" role="alert" data-testid="download-note">{note.text}</p>
  ) : (
    <p className="alert alert-warning table-message" role="status" data-testid="download-note">{note.text}</p>
  );
}
