/** The longest title a conversation is given from what was asked (characters as a person counts them). */
export const TITLE_MAX = 80;

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * A conversation's title from its first question: on one line, at most TITLE_MAX characters,
 * cut between characters as a person sees them. A cut by UTF-16 units could split an emoji
 * (stored as a replacement character) or leave an accent without its letter.
 */
export function conversationTitle(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  if (line.length <= TITLE_MAX) return line;
  let end = 0;
  let count = 0;
  for (const { index, segment } of graphemes.segment(line)) {
    if (++count > TITLE_MAX) break;
    end = index + segment.length;
  }
  return line.slice(0, end);
}
