/**
 * `truncation: "auto"`, as OpenAI does it: a conversation continued by previous_response_id
 * that would no longer fit loses its oldest items until the rest does. "Fit" here is what the
 * gateway takes from any request — OPENAI_MAX_TEXT_CHARS of text and the message cap — since
 * it knows no model's context window (a provider still refuses what is too long for its
 * model). Items go a whole turn at a time, from the start of a user (or system) message on:
 * an answer never loses the reasoning that led to it, nor a tool result its call. The
 * request's own input and instructions are never dropped; if they alone do not fit, the
 * request is refused as it would be without a conversation.
 */
import type { TResponsesInputItem } from "@switchboard/schema";

/** Where a turn begins: a message from anyone but the assistant. */
const startsTurn = (item: TResponsesInputItem) => item.type === "message" && item.role !== "assistant";

/**
 * The newest part of `earlier` that `fits` with the request, starting at a turn (all of it
 * when it fits, none when no turn does). `fits` only grows truer as items are dropped, so the
 * starts are searched by halves: a conversation of a thousand items is tried some ten times.
 */
export function truncatedConversation(earlier: TResponsesInputItem[], fits: (kept: TResponsesInputItem[]) => boolean): TResponsesInputItem[] {
  if (fits(earlier)) return earlier;
  const starts = earlier.flatMap((item, index) => (index > 0 && startsTurn(item) ? [index] : []));
  let low = 0;
  let high = starts.length; // `starts.length` stands for dropping every earlier item
  while (low < high) {
    const mid = (low + high) >> 1;
    if (fits(earlier.slice(starts[mid]))) high = mid;
    else low = mid + 1;
  }
  return low < starts.length ? earlier.slice(starts[low]) : [];
}
