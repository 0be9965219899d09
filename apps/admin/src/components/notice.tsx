import { useState } from "react";

/** A page's last outcome message: what a save, delete or test did. */
export interface Notice {
  kind: "success" | "error";
  text: string;
}

/** The page's notice and its setter; `null` when there is none (or it was dismissed). */
export function useNotice() {
  return useState<Notice | null>(null);
}

/**
 * Where a page shows its notice: a polite live region that is always in the page, so a
 * screen reader announces each new message, with a button to dismiss it.
 */
export function NoticeSlot({ notice, onDismiss, testId }: { notice: Notice | null; onDismiss: () => void; testId: string }) {
  return (
    <div className="notice-slot" role="status" aria-live="polite" data-testid={testId}>
      {notice ? (
        <div className={`alert ${notice.kind === "success" ? "alert-success" : "alert-error"}`}>
          <span>{notice.text}</span>
          <button type="button" className="alert-close" aria-label="Dismiss message" onClick={onDismiss}>×</button>
        </div>
      ) : null}
    </div>
  );
}
