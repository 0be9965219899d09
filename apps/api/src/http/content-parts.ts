/**
 * Content parts counted before anything reads a chat-shaped /v1 body. A body at the /v1
 * limit holds hundreds of thousands of tiny parts (`{"type":"text","text":"a"}`): the walk of
 * every value for NUL (text-hygiene.ts, a preHandler), the schema, the translation and the
 * count of their text held the event loop for seconds, in which the instance answered no one
 * else. This reads the arrays' lengths only, in the routes' preValidation, ahead of all that;
 * the total across messages is no schema's to check, and Anthropic counts a tool_result's
 * blocks with its message's. What is left of such a body's cost is JSON.parse.
 */
import { formatCount, OPENAI_LIMITS } from "@switchboard/schema";
import type { preValidationHookHandler } from "fastify";
import { AppError } from "../services/errors.ts";

/** Where a dialect's body keeps content parts. */
export interface PartsLayout {
  /** The array of messages: `messages`, or `input` for a Responses request. */
  list: string;
  /** The fields of a message (or input item) that may hold an array of parts. */
  fields: readonly string[];
  /** A part's own array of parts, counted as its message's (Anthropic's tool_result `content`). */
  nested?: { type: string; field: string };
  /** Top-level arrays of parts outside the messages (Anthropic's `system`). */
  extra?: readonly string[];
  /** What the dialect calls a part, for the refusal. */
  noun: string;
}

export const CHAT_PARTS: PartsLayout = { list: "messages", fields: ["content"], noun: "content parts" };
export const RESPONSES_PARTS: PartsLayout = { list: "input", fields: ["content", "output"], noun: "content parts" };
export const ANTHROPIC_PARTS: PartsLayout = {
  list: "messages",
  fields: ["content"],
  nested: { type: "tool_result", field: "content" },
  extra: ["system"],
  noun: "content blocks",
};

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** Each array of parts in the body, as the field a refusal names and how many parts it holds. */
function* holdersOf(body: Record<string, unknown>, layout: PartsLayout): Generator<{ param: string; parts: number }> {
  for (const name of layout.extra ?? []) {
    const parts = body[name];
    if (Array.isArray(parts)) yield { param: name, parts: parts.length };
  }
  const list = body[layout.list];
  if (!Array.isArray(list)) return;
  for (let i = 0; i < list.length; i++) {
    const message: unknown = list[i];
    if (!isRecord(message)) continue;
    for (const field of layout.fields) {
      const parts = message[field];
      if (!Array.isArray(parts)) continue;
      let count = parts.length;
      const nested = layout.nested;
      if (nested) {
        for (const part of parts as unknown[]) {
          const inner = isRecord(part) && part["type"] === nested.type ? part[nested.field] : undefined;
          if (Array.isArray(inner)) count += inner.length;
        }
      }
      yield { param: `${layout.list}.${i}.${field}`, parts: count };
    }
  }
}

/**
 * Refuses a body with more parts in one message than OPENAI_LIMITS.maxContentPartsPerMessage,
 * or more in all than OPENAI_LIMITS.maxContentParts (naming the message where the count
 * passes it), with a 400 naming the field; anything else is left to the schema to judge.
 */
export function refuseManyContentParts(body: unknown, layout: PartsLayout): void {
  if (!isRecord(body)) return;
  const { maxContentPartsPerMessage: perMessage, maxContentParts: perRequest } = OPENAI_LIMITS;
  let total = 0;
  for (const { param, parts } of holdersOf(body, layout)) {
    if (parts > perMessage) {
      throw new AppError("BAD_REQUEST", `${param}: ${formatCount(parts)} ${layout.noun} (limit ${formatCount(perMessage)} per message): send fewer, longer ones`, {
        details: { param },
      });
    }
    total += parts;
    if (total > perRequest) {
      throw new AppError("BAD_REQUEST", `${param}: more than ${formatCount(perRequest)} ${layout.noun} in the request so far (limit ${formatCount(perRequest)} across all messages): send fewer, longer ones`, {
        details: { param },
      });
    }
  }
}

/** The route option that counts a body's parts before anything else reads it; a refusal goes to the route's error handler, in its dialect. */
export const countContentParts =
  (layout: PartsLayout): preValidationHookHandler =>
  (request, _reply, done) => {
    try {
      refuseManyContentParts(request.body, layout);
      done();
    } catch (error) {
      done(error as Error);
    }
  };
