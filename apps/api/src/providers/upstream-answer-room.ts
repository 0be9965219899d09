/**
 * The room whole upstream answers are read into, shared by every call in flight on this
 * instance (upstream-http.ts). Each answer is bounded on its own (MAX_REPLY_BYTES), but a
 * burst of large ones at once (embeddings of whole batches) would add up without bound: each
 * byte past the first MB of a whole answer is taken from this room while the answer is read,
 * and given back once its text is read or the read failed. So it bounds the bytes being read
 * at once, not an answer's whole cost: its decoded text, the parsed answer and the reply a
 * slow client has not read yet are held after the room is given back. An answer that finds no room fails
 * its call at once as "overloaded" (never a wait), which ends the request with a 503 to retry
 * (services/gateway): the instance is full, not the provider at fault.
 *
 * Answers up to 1 MB — nearly every chat answer — never draw on it: their memory is bounded
 * by the in-flight cap, as small request bodies are, and a burst of large answers cannot
 * refuse them. Streams do not draw on it either: they are handed on chunk by chunk as they
 * arrive, at the pace a model writes, and a refusal half-way would cut an answer the caller
 * is already reading; each is bounded by MAX_STREAM_BYTES.
 */
import { createBytePool, type BytePool } from "../infra/byte-pool.ts";

/** The part of each whole answer that does not draw on the room. */
export const ANSWER_BYTES_WITHOUT_ROOM = 1024 * 1024;

/**
 * The room's size: one answer at the per-answer bound (64 MB) at a time, so that any answer
 * that bound admits can be read on an idle instance (a smaller room would make a retry of
 * such an answer fail forever), or two of the largest embeddings answers the SDKs ask for by
 * default (~33 MB). It bounds the bytes being read at once, not what answers hold after
 * (docs/security.md, "Memory of upstream answers").
 */
export const UPSTREAM_ANSWER_ROOM_BYTES = 64 * 1024 * 1024;

export const upstreamAnswerRoom: BytePool = createBytePool(UPSTREAM_ANSWER_ROOM_BYTES);
