import type { ChatMessage } from "../../providers/types.ts";

export interface HistoryBudget {
  maxChars: number;
  maxMessages: number;
}

export interface StoredMessage {
  role: string;
  content: string;
  status: string;
}

/**
 * The context sent with a new message: the most recent earlier messages that fit the budget,
 * oldest first. Failed replies carry no text and are left out; a partial (incomplete) reply
 * is kept because the user saw it. Stops at the first message that does not fit, so the
 * model never gets a conversation with a hole in the middle.
 *
 * @param newestFirst earlier messages of the conversation, newest first
 */
export function selectHistory(newestFirst: StoredMessage[], budget: HistoryBudget): ChatMessage[] {
  const picked: ChatMessage[] = [];
  let chars = 0;
  for (const m of newestFirst) {
    if (picked.length >= budget.maxMessages) break;
    if (m.status === "failed" || m.content === "" || (m.role !== "user" && m.role !== "assistant")) continue;
    if (chars + m.content.length > budget.maxChars) break;
    chars += m.content.length;
    picked.push({ role: m.role, content: m.content });
  }
  return picked.reverse();
}
