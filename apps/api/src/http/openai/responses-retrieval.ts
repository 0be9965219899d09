/**
 * A kept Responses answer, read back by the user who got it, as OpenAI serves them:
 * GET /v1/responses/{id} (the `response` object as it was sent), GET
 * /v1/responses/{id}/input_items (the input it answered, a page at a time) and DELETE
 * /v1/responses/{id}. Answers are kept an hour (services/response-items.ts), not OpenAI's
 * 30 days: past that, or at `store: false`, or for anyone else, an answer is a 404. Each read
 * counts against the caller's rate limits (the user's chat rate, an API key's own), as any
 * OpenAI request does, though it calls no model and costs nothing.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppDeps } from "../../deps.ts";
import { AppError } from "../../services/errors.ts";
import type { KeptResponse } from "../../services/response-items.ts";
import { authorizeRequest } from "../caller-auth.ts";

/** Any id: one no answer could have (too long, say) is simply not found, as at OpenAI. */
const ZResponseParams = z.object({ id: z.string() });
const MAX_ID_CHARS = 200;

/** `stream=true` asks OpenAI to replay a background response's events; none runs here. */
const ZRetrieveQuery = z.object({ stream: z.enum(["false"], { error: "stream: a kept answer is read whole; none runs in the background to replay" }).optional() });

/** OpenAI's list parameters: newest first unless `order=asc`, 20 a page (at most 100), `after` an item id. */
const ZInputItemsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(["asc", "desc"]).default("desc"),
  after: z.string().min(1).max(200).optional(),
  // Asks for extra fields OpenAI can add to items; the kept items carry all they have.
  include: z.union([z.string(), z.array(z.string())]).optional(),
});

const notFound = (id: string) => new AppError("NOT_FOUND", `Response with id '${id}' not found (answers are kept an hour, for the user who got them, unless sent with store: false)`, { details: { openaiCode: "not_found" } });

const docs = (summary: string) => ({ summary, tags: ["openai"], auth: "bearer" as const, params: ZResponseParams, responses: { 404: "Unknown, expired, another user's, or kept with store: false" } });

export function registerResponseRetrieval(v1: FastifyInstance, deps: AppDeps): void {
  /** The caller's kept answer `id`, or the 404 OpenAI gives for an unknown one. */
  const keptAnswer = async (userId: string, id: string): Promise<KeptResponse> =>
    (id.length <= MAX_ID_CHARS ? await deps.responseItems.response(userId, id) : null) ?? Promise.reject(notFound(id.slice(0, MAX_ID_CHARS)));

  v1.get<{ Params: { id: string } }>("/responses/:id", { config: { keyScope: "chat", counted: true, openapi: docs("A kept Responses answer, as it was sent (OpenAI-compatible; kept an hour)") } }, async (request, reply) => {
    const user = await authorizeRequest(deps, request, reply);
    const { id } = ZResponseParams.parse(request.params);
    ZRetrieveQuery.parse(request.query);
    const answer = await keptAnswer(user.id, id);
    return { ...answer.envelope, output: answer.output };
  });

  v1.get<{ Params: { id: string } }>(
    "/responses/:id/input_items",
    { config: { keyScope: "chat", counted: true, openapi: { ...docs("The input a kept Responses answer answered (OpenAI-compatible list)"), query: ZInputItemsQuery } } },
    async (request, reply) => {
      const user = await authorizeRequest(deps, request, reply);
      const { id } = ZResponseParams.parse(request.params);
      const query = ZInputItemsQuery.parse(request.query);
      const items = listedInputItems(id, (await keptAnswer(user.id, id)).input);
      return inputItemsPage(query.order === "asc" ? items : items.reverse(), query.limit, query.after);
    },
  );

  v1.delete<{ Params: { id: string } }>("/responses/:id", { config: { keyScope: "chat", counted: true, openapi: docs("Deletes a kept Responses answer (OpenAI-compatible)") } }, async (request, reply) => {
    const user = await authorizeRequest(deps, request, reply);
    const { id } = ZResponseParams.parse(request.params);
    if (id.length > MAX_ID_CHARS || !(await deps.responseItems.forget(user.id, id))) throw notFound(id.slice(0, MAX_ID_CHARS));
    return { id, object: "response", deleted: true };
  });
}

type ListedItem = Record<string, unknown> & { id: string };

/**
 * The input items as OpenAI lists them: each with an id of its own, as `after` pages by it (an
 * item sent without one, or with one an earlier item has — the same item referred to twice —
 * gets one derived from the answer's id and its place, the same on every read), and a
 * message's text as content parts.
 */
function listedInputItems(responseId: string, input: readonly unknown[]): ListedItem[] {
  const taken = new Set<string>();
  return input.map((raw, index) => {
    const item = { ...(raw as Record<string, unknown>) };
    if (item["type"] === "message" && typeof item["content"] === "string") {
      item["content"] = [{ type: item["role"] === "assistant" ? "output_text" : "input_text", text: item["content"] }];
    }
    const sent = item["id"];
    const id = typeof sent === "string" && !taken.has(sent) ? sent : `${responseId.replace(/^resp_/, "msg_")}_${index}`;
    taken.add(id);
    return { ...item, id };
  });
}

function inputItemsPage(items: ListedItem[], limit: number, after: string | undefined) {
  const start = after === undefined ? 0 : items.findIndex((item) => item.id === after) + 1;
  if (after !== undefined && start === 0) throw new AppError("BAD_REQUEST", `after: no input item '${after}' in this response`, { details: { param: "after" } });
  const data = items.slice(start, start + limit);
  return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < items.length };
}
