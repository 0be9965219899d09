/**
 * Streamed tool-call pieces carry `index`, the call they belong to: OpenAI's SDK and every
 * framework assemble parallel calls by it. Some OpenAI-compatible servers leave it out
 * (Gemini's compatibility endpoint, some local servers), and a client then merges every call
 * into one. This fills it in where it is missing, as the server meant it: a piece with an `id`
 * other than the last call's starts the next call of its choice; without an id, a function
 * name other than the last call's does (some servers repeat the id or the name on every
 * piece); any other piece continues the call before it. Pieces that carry an index are left
 * alone. (Parallel calls to one function with neither ids nor indexes cannot be told apart.)
 */
import type { ChoiceChunk } from "./types.ts";

interface CallPiece {
  index?: unknown;
  id?: unknown;
  function?: { name?: unknown } | null;
}

interface ChoiceCalls {
  /** Calls seen so far in this choice. */
  count: number;
  /** The last piece's call: its index, and the id and name it was given. */
  last: number;
  lastId: string | undefined;
  lastName: string | undefined;
}

const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

function startsCall(piece: CallPiece, calls: ChoiceCalls): boolean {
  if (calls.last < 0) return true;
  const id = text(piece.id);
  if (id !== undefined) return id !== calls.lastId;
  const name = text(piece.function?.name);
  return name !== undefined && name !== calls.lastName;
}

/** One stream's indexer: keeps each choice's calls, and fills in missing indexes in place. */
export function createToolCallIndexer(): (choice: ChoiceChunk) => void {
  const byChoice = new Map<number, ChoiceCalls>();
  return (choice) => {
    const pieces = choice.delta.tool_calls;
    if (!Array.isArray(pieces)) return;
    const choiceIndex = typeof choice.index === "number" ? choice.index : 0;
    let calls = byChoice.get(choiceIndex);
    if (!calls) byChoice.set(choiceIndex, (calls = { count: 0, last: -1, lastId: undefined, lastName: undefined }));
    for (const piece of pieces as CallPiece[]) {
      if (typeof piece !== "object" || piece === null) continue;
      if (typeof piece.index !== "number") piece.index = startsCall(piece, calls) ? calls.count : calls.last;
      const index = piece.index as number;
      if (index !== calls.last) calls.lastId = calls.lastName = undefined;
      calls.last = index;
      calls.lastId = text(piece.id) ?? calls.lastId;
      calls.lastName = text(piece.function?.name) ?? calls.lastName;
      calls.count = Math.max(calls.count, index + 1);
    }
  };
}
