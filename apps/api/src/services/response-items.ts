/**
 * What earlier Responses API answers leave for later requests, kept for a while per user:
 * - their output items, so a request can name one by id (`item_reference`) instead of sending
 *   it again — what the Vercel AI SDK's OpenAI provider does at its default `store: true`;
 * - each answer's place in a conversation (the input it answered, its output items, the
 *   answers before it), so a request can continue it with `previous_response_id` and send
 *   only what is new — what the OpenAI Agents SDK and hand-written Responses clients do.
 * - the answer as it was sent (the `response` object), so its user can retrieve it, list the
 *   input it answered, or delete it.
 * Only for the user who got them and for KEPT_TTL_MS: one older than that must be sent whole.
 * Where they are kept, and each user's bound there, is KeptPerUser's (32 M characters per user
 * and hour in Redis; 32 MB in process, half of it per user). An item kept to be referred to
 * holds only what a later request is translated back into; nothing over 1 MB is kept.
 */
import type { Coordination } from "../infra/coordination/port.ts";
import { AppError } from "./errors.ts";
import { createKeptPerUser, type KeptEntry } from "./kept-per-user.ts";

/** How long an item or an answer can be referred to after the answer that made it (or last continued it). */
export const KEPT_TTL_MS = 60 * 60 * 1000;
/** Embedded default: what is kept may take this much memory, about (two bytes a character). */
const IN_PROCESS_MAX_BYTES = 32 * 1024 * 1024;
/** A value longer than this (as kept) is not kept: a later request must send it whole. */
const MAX_KEPT_CHARS = 1024 * 1024;
/**
 * The most answers one conversation may chain through `previous_response_id`: each answer
 * keeps the ids of those before it, and a history that long is past any request's size anyway.
 */
export const MAX_CHAINED_RESPONSES = 500;
/** An answer read while continuing it is kept again once it is this old, so a live conversation does not expire under it. */
const REFRESH_AFTER_MS = KEPT_TTL_MS / 4;
/**
 * Cluster mode: what one user may have kept in Redis within an hour, in characters. Inputs are
 * kept too, and a base64 photo is a megabyte for a few hundred tokens: without a bound, one
 * user sending photos at the chat rate limit would keep gigabytes in the shared store.
 */
export const SHARED_MAX_CHARS_PER_USER_HOUR = 32 * 1024 * 1024;

/** An output item as the answer held it (kept whole); only its id is read here. */
export interface KeptItem {
  id: string;
}

/** One answer's place in a conversation: what it was asked (its own input items, references resolved) and what it said. */
export interface KeptResponse {
  input: readonly unknown[];
  output: readonly KeptItem[];
  /**
   * The rest of the answer as it was sent (status, model, usage, the request's settings), to
   * retrieve it; not counted as conversation. Read back, it holds the output as sent too
   * (`output` above is what a continuation replays: no logprobs or annotations).
   */
  envelope?: Record<string, unknown>;
}

/** A conversation being continued: its answers' ids, oldest first, and the characters they keep together. */
export interface ContinuedConversation {
  ids: readonly string[];
  chars: number;
}

/** The conversation up to an answer: its items in order, and what a continuation of it builds on. */
export interface Conversation {
  items: unknown[];
  continued: ContinuedConversation;
}

export interface ResponseItems {
  /** Keeps an answer's output items for `userId`'s later requests. */
  keep(userId: string, items: readonly KeptItem[]): Promise<void>;
  /** The kept items of `userId` with these ids, by id; an unknown or expired id is absent. */
  find(userId: string, ids: readonly string[]): Promise<Map<string, unknown>>;
  /** Keeps answer `responseId` (its output items too) for `userId` to continue; `continued`: the conversation it continued. */
  keepResponse(userId: string, responseId: string, response: KeptResponse, continued?: ContinuedConversation): Promise<void>;
  /**
   * The conversation up to and including answer `responseId` of `userId`, as input items in
   * order (each answer's input, then its output, from the first answer on); null when that
   * answer, or one it continued, is unknown, expired, another user's or was never kept.
   * `admit` is told the characters the whole conversation keeps before any of it but the
   * last answer is read, and may refuse (throw): a history is as large as a request body.
   */
  conversation(userId: string, responseId: string, admit?: (chars: number) => void): Promise<Conversation | null>;
  /** Answer `responseId` of `userId` as kept (its envelope, input and output); null when unknown, expired, another user's, never kept, or kept without its envelope. */
  response(userId: string, responseId: string): Promise<KeptResponse | null>;
  /** Forgets answer `responseId` of `userId` and its items; false when there was none to forget. */
  forget(userId: string, responseId: string): Promise<boolean>;
}

const itemKey = (userId: string, id: string) => `resp-item:${userId}:${id}`;
const responseKey = (userId: string, id: string) => `resp:${userId}:${id}`;

export function createResponseItems(coordination: Coordination): ResponseItems {
  const store = keptStore(coordination);
  const itemEntries = (userId: string, items: readonly KeptItem[]) => keptForm(items).map(([id, value]): KeptEntry => [itemKey(userId, id), value]);
  return {
    keep: (userId, items) => store.put(userId, itemEntries(userId, items)),
    async find(userId, ids) {
      if (ids.length === 0) return new Map();
      return foundById(ids, await store.getMany(ids.map((id) => itemKey(userId, id))));
    },
    async keepResponse(userId, responseId, response, continued) {
      const entries = itemEntries(userId, response.output);
      // What a continuation replays, and counts: the input and output, not the envelope.
      const own = JSON.stringify({ input: response.input, output: response.output }, withoutExtras);
      // Too large, or a conversation already at the bound: not kept (continuing it is the caller's 400).
      if (own.length <= MAX_KEPT_CHARS && (continued?.ids.length ?? 0) < MAX_CHAINED_RESPONSES) {
        const envelope = envelopeField(response);
        // StoredResponse's other fields appended to the answer's own JSON, not serialized twice.
        const more = `"before":${JSON.stringify(continued?.ids ?? [])},"chars":${(continued?.chars ?? 0) + own.length},"keptAt":${Date.now()}${envelope}`;
        entries.push([responseKey(userId, responseId), `${own.slice(0, -1)},${more}}`]);
      }
      await store.put(userId, entries);
    },
    conversation: (userId, responseId, admit) => conversationOf(userId, responseId, admit),
    async response(userId, responseId) {
      const [value] = await store.getMany([responseKey(userId, responseId)]);
      const stored = storedResponse(value ?? null);
      if (!stored?.envelope) return null;
      // The output as sent, when the continuation's copy left something out.
      const { output: sent, ...envelope } = stored.envelope as { output?: KeptItem[] };
      return { input: stored.input, output: sent ?? stored.output, envelope };
    },
    async forget(userId, responseId) {
      const [value] = await store.getMany([responseKey(userId, responseId)]);
      const stored = storedResponse(value ?? null);
      if (!stored) return false;
      await store.delete([responseKey(userId, responseId), ...stored.output.map((item) => itemKey(userId, item.id))]);
      return true;
    },
  };

  /**
   * Keeps again the answers of a conversation being continued that were kept a while ago, and
   * their items, so its first answers do not expire while it goes on. Not awaited: the request
   * needs only what was read, and a write that fails leaves the answers as they were.
   */
  function refreshOld(userId: string, chain: ReadonlyArray<[string, StoredResponse]>): void {
    const now = Date.now();
    const old = chain.filter(([, stored]) => now - stored.keptAt >= REFRESH_AFTER_MS);
    if (old.length === 0) return;
    const entries = old.flatMap(([id, stored]): KeptEntry[] => [[responseKey(userId, id), JSON.stringify({ ...stored, keptAt: now })], ...itemEntries(userId, stored.output)]);
    void store.put(userId, entries, true).catch(() => undefined);
  }

  async function conversationOf(userId: string, responseId: string, admit: ((chars: number) => void) | undefined): Promise<Conversation | null> {
    const [value] = await store.getMany([responseKey(userId, responseId)]);
    const head = storedResponse(value ?? null);
    if (!head) return null;
    admit?.(head.chars);
    // Every earlier answer in one read: each answer keeps the ids of those before it.
    const earlier = head.before.length === 0 ? [] : await store.getMany(head.before.map((id) => responseKey(userId, id)));
    const chain: Array<[string, StoredResponse]> = [];
    for (const [i, id] of head.before.entries()) {
      const stored = storedResponse(earlier[i] ?? null);
      if (!stored) return null;
      chain.push([id, stored]);
    }
    chain.push([responseId, head]);
    refreshOld(userId, chain);
    return { items: chain.flatMap(([, stored]) => [...stored.input, ...stored.output]), continued: { ids: [...head.before, responseId], chars: head.chars } };
  }
}

/**
 * The answer's envelope as a field of its kept JSON, with the output as sent when a
 * continuation's copy leaves something out; none when it would take more than MAX_KEPT_CHARS
 * (the answer can still be continued, not retrieved).
 */
function envelopeField(response: KeptResponse): string {
  if (!response.envelope) return "";
  const whole = JSON.stringify(response.output);
  const replayed = JSON.stringify(response.output, withoutExtras);
  const field = `,"envelope":${JSON.stringify(whole === replayed ? response.envelope : { ...response.envelope, output: response.output })}`;
  return field.length <= MAX_KEPT_CHARS ? field : "";
}

/** A kept answer as stored: its own input and output, the answers before it (oldest first), the characters all of them keep, when it was last kept. */
interface StoredResponse extends KeptResponse {
  before: string[];
  chars: number;
  keptAt: number;
}

function storedResponse(value: string | null): StoredResponse | undefined {
  const stored = parsed(value) as Partial<StoredResponse> | undefined;
  const valid = stored && Array.isArray(stored.input) && Array.isArray(stored.output) && Array.isArray(stored.before) && typeof stored.chars === "number" && typeof stored.keptAt === "number";
  return valid ? (stored as StoredResponse) : undefined;
}

/** Why an answer was not kept: its user is past what one user may keep (in Redis, SHARED_MAX_CHARS_PER_USER_HOUR within the hour). */
export class KeptBoundReached extends Error {
  constructor() {
    super(`not kept: this user's kept answers reached what one user may keep (${SHARED_MAX_CHARS_PER_USER_HOUR / (1024 * 1024)} M characters an hour in the shared store, half the memory in process)`);
  }
}

/**
 * Where answers and items live, with each user's bound; a user past it, or a store that
 * cannot be read, is said in words a caller can act on.
 */
function keptStore(coordination: Coordination) {
  const kept = createKeptPerUser(coordination, { counter: "resp-chars", sharedMaxCharsPerUserHour: SHARED_MAX_CHARS_PER_USER_HOUR, inProcessMaxBytes: IN_PROCESS_MAX_BYTES });
  return {
    async put(userId: string, entries: readonly KeptEntry[], again = false): Promise<void> {
      if (!(await kept.put(userId, entries, KEPT_TTL_MS, again))) throw new KeptBoundReached();
    },
    getMany: (keys: readonly string[]) =>
      kept.getMany(keys).catch(() => {
        throw new AppError("SERVICE_UNAVAILABLE", "Earlier answers cannot be read right now (the shared store is unreachable); retry, or send the conversation itself", {
          retryAfterSec: 1,
        });
      }),
    delete: (keys: readonly string[]) =>
      kept.delete(keys).catch(() => {
        throw new AppError("SERVICE_UNAVAILABLE", "The answer cannot be deleted right now (the shared store is unreachable); retry", { retryAfterSec: 1 });
      }),
  };
}

/** What a later request is translated back into (text, refusals, calls), not the logprobs or annotations an answer also carried. */
const withoutExtras = (key: string, field: unknown) => (key === "logprobs" || key === "annotations" ? undefined : field);

/** Each item as kept; one too long to keep is left out. */
function keptForm(items: readonly KeptItem[]): KeptEntry[] {
  return items.flatMap((item): KeptEntry[] => {
    const value = JSON.stringify(item, withoutExtras);
    return value.length <= MAX_KEPT_CHARS ? [[item.id, value]] : [];
  });
}

/** A kept value, or undefined for anything keep() did not write (as good as absent: the request is told to send it). */
function parsed(value: string | null): unknown {
  if (!value) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function foundById(ids: readonly string[], values: ReadonlyArray<string | null>): Map<string, unknown> {
  const found = new Map<string, unknown>();
  ids.forEach((id, i) => {
    const value = parsed(values[i] ?? null);
    if (value !== undefined) found.set(id, value);
  });
  return found;
}
