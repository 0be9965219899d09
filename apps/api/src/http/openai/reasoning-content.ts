/**
 * A Responses API `reasoning` item's `encrypted_content`, as Switchboard fills it: the
 * thinking blocks a provider returned with their signatures (Anthropic's extended thinking,
 * which chat answers carry as `thinking_blocks`). Clients treat the field as opaque and send
 * the item back with the turn's tool results; Anthropic requires those blocks back, unchanged,
 * before the turn's tool calls. The provider's own signature protects each block, so the
 * value is only encoded, not sealed again. Reasoning a provider returned without blocks
 * (DeepSeek's) has nothing a provider takes back: no encrypted_content.
 */
const PREFIX = "switchboard.thinking.v1.";

export function encryptedContentOf(blocks: readonly unknown[]): string | undefined {
  return blocks.length === 0 ? undefined : PREFIX + Buffer.from(JSON.stringify(blocks)).toString("base64url");
}

/**
 * The thinking blocks in an `encrypted_content` made by encryptedContentOf; an empty list for
 * anything else (OpenAI's own encrypted reasoning means nothing to other providers). Undefined
 * when it claims to be ours but is not a list of blocks: the caller refuses the request.
 */
export function thinkingBlocksIn(encrypted: unknown): unknown[] | undefined {
  if (typeof encrypted !== "string" || !encrypted.startsWith(PREFIX)) return [];
  try {
    const blocks = JSON.parse(Buffer.from(encrypted.slice(PREFIX.length), "base64url").toString("utf8")) as unknown;
    const isBlock = (b: unknown) => b !== null && typeof b === "object" && ((b as { type?: unknown }).type === "thinking" || (b as { type?: unknown }).type === "redacted_thinking");
    return Array.isArray(blocks) && blocks.every(isBlock) ? blocks : undefined;
  } catch {
    return undefined;
  }
}
