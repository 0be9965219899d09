/** "just now", "4 min ago", "2 h ago" — recomputed by the caller's re-render. */
export function timeAgo(iso: string | null, now = Date.now()): string {
  if (!iso) return "";
  const sec = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (sec < 10) return "just now";
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
  if (sec < 86_400) return `${Math.floor(sec / 3600)} h ago`;
  return `${Math.floor(sec / 86_400)} d ago`;
}
