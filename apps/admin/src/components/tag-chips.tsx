/** Request tags (x-switchboard-tags, an API key's tags) as chips that wrap rather than widen a table. */
export function TagChips({ tags }: { tags: readonly string[] }) {
  if (tags.length === 0) return null;
  return (
    <span className="tags">
      {tags.map((t) => (
        <span key={t} className="badge badge-muted">{t}</span>
      ))}
    </span>
  );
}
