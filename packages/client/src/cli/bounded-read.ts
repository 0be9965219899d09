/**
 * Reads a stream whole, up to a limit. `config apply` read its file or standard input with no
 * end in sight: `config apply /dev/zero`, a device or a producer that never stops (`yes |`)
 * grew the CLI past 600 MB over several seconds and ended in V8's "Invalid string length". A
 * source larger than any document the server could take is refused once the limit is passed,
 * having held no more than that.
 */

/** The bytes of `source`, or undefined as soon as it holds more than `limit` (it is then left unread). */
export async function readAtMost(source: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    size += bytes.length;
    // Leaving the loop early returns the iterator, which closes a file's stream.
    if (size > limit) return undefined;
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}
