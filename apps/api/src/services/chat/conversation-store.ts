/**
 * Conversations and messages in the database. Ownership is part of every query: a user can
 * only reach their own conversations, and another user's id answers exactly like an id that
 * does not exist (404), so existence does not leak. ADMIN and above may read and delete all.
 */
import { randomUUID } from "node:crypto";
import {
  CHAT_LIMITS,
  roleAtLeast,
  storableDeep,
  type TChatAttempt,
  type TChatMessage,
  type TConversation,
  type TConversationSummary,
  type TConversationImportInput,
  type TConversationImportOutput,
  type TConversationsListInput,
  type TRole,
} from "@switchboard/schema";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.ts";
import { isForeignKeyViolation } from "../../infra/database-errors.ts";
import type { ChatMessage } from "../../providers/types.ts";
import { cursorPage } from "../cursor-page.ts";
import { AppError } from "../errors.ts";
import { cursorPlace, keysetPage, rowsBelow } from "../keyset-page.ts";
import { conversationTitle } from "./conversation-title.ts";
import { selectHistory, type HistoryBudget } from "./history.ts";

export interface Viewer {
  id: string;
  role: TRole;
}

export interface ReplyRecord {
  id: string;
  content: string;
  provider: string | null;
  model: string | null;
  status: "complete" | "incomplete" | "failed";
  promptTokens: number | null;
  completionTokens: number | null;
  latencyMs: number | null;
  attempts: TChatAttempt[];
}

export interface UserTurn {
  conversationId: string;
  /** Earlier messages within the history budget, oldest first. */
  history: ChatMessage[];
  createdAt: Date;
  /** Resolves once the user's message (and a new conversation) is stored; rejects if that failed. */
  whenStored: () => Promise<void>;
}

/** Lets a write run now and be awaited later, with no unhandled rejection in between. */
function later(write: PromiseLike<unknown>): () => Promise<void> {
  const outcome = Promise.resolve(write).then(
    () => null,
    (error: unknown) => ({ error }),
  );
  return async () => {
    const failed = await outcome;
    if (failed) throw failed.error;
  };
}

/**
 * A message whose conversation was deleted before it landed goes with the conversation, as
 * it would have had it landed a moment earlier: the turn goes on, its answer reaches the
 * caller, and its reply is dropped the same way. Nothing is re-created.
 */
function goneWithConversation(error: unknown): void {
  if (!isForeignKeyViolation(error)) throw error;
}

const notFound = () => new AppError("NOT_FOUND", "Conversation not found");
const noRoom = (kept: number) =>
  new AppError("CONFLICT", `You keep ${kept} conversations, the most one user may keep (${CHAT_LIMITS.conversationsPerUser}); delete some you no longer need first`);

export function createConversationStore(deps: { prisma: PrismaClient; budget: HistoryBudget }) {
  const { prisma } = deps;
  const scope = (viewer: Viewer) => (roleAtLeast(viewer.role, "ADMIN") ? {} : { userId: viewer.id });

  /**
   * Refuses a new conversation beyond CHAT_LIMITS.conversationsPerUser, before any model is
   * called. Counted without a lock: requests racing at the limit may each pass, so a user
   * can end a few over it (as many as they have new conversations in flight), never more.
   */
  async function ensureRoom(userId: string): Promise<void> {
    const kept = await prisma.conversation.count({ where: { userId } });
    if (kept >= CHAT_LIMITS.conversationsPerUser) throw noRoom(kept);
  }

  /**
   * Checks the conversation (owner-only, even for admins), returns the earlier messages to
   * send as context, and starts storing the user's message (creating the conversation when
   * no id is given). The write runs while the model is called: await `whenStored` before
   * anything that needs the rows (the reply, telling the client the conversation id).
   */
  async function addUserMessage(userId: string, conversationId: string | undefined, content: string): Promise<UserTurn> {
    const createdAt = new Date();
    if (conversationId === undefined) {
      await ensureRoom(userId);
      const id = randomUUID();
      const title = conversationTitle(content);
      const at = createdAt.toISOString();
      // One statement instead of Prisma's nested create (a four-round-trip transaction): this
      // is on every chat request's path. Foreign keys are checked at the end of the statement.
      const write = prisma.$executeRaw`
        WITH conversation AS (
          INSERT INTO "Conversation" ("id", "userId", "title", "createdAt", "updatedAt")
          VALUES (${id}, ${userId}, ${title}, ${at}::timestamptz AT TIME ZONE 'UTC', ${at}::timestamptz AT TIME ZONE 'UTC')
        )
        INSERT INTO "Message" ("id", "conversationId", "role", "content", "status", "createdAt")
        VALUES (${randomUUID()}, ${id}, 'user', ${content}, 'complete', ${at}::timestamptz AT TIME ZONE 'UTC')`;
      return { conversationId: id, history: [], createdAt, whenStored: later(write) };
    }
    const found = await prisma.conversation.findFirst({
      where: { id: conversationId, userId },
      select: {
        _count: { select: { messages: true } },
        messages: { orderBy: { createdAt: "desc" }, take: deps.budget.maxMessages, select: { role: true, content: true, status: true } },
      },
    });
    if (!found) throw notFound();
    // Counted without a lock (docs/chat.md): messages sent into one conversation at once may
    // each pass, two messages over per message in flight; a lock would still let their replies over.
    if (found._count.messages + 2 > CHAT_LIMITS.conversationMaxMessages) {
      throw new AppError("PAYLOAD_TOO_LARGE", `Conversation is full (limit ${CHAT_LIMITS.conversationMaxMessages} messages); start a new one`);
    }
    const history = selectHistory(found.messages, deps.budget);
    const write = prisma.message.create({ data: { conversationId, role: "user", content, status: "complete", createdAt }, select: { id: true } });
    return { conversationId, history, createdAt, whenStored: later(write.catch(goneWithConversation)) };
  }

  /** Stores a reply. Must finish before the reply is acknowledged to the client. */
  async function saveReply(conversationId: string, after: Date, shown: ReplyRecord): Promise<void> {
    // Upstream text may contain NUL or unpaired surrogates, which PostgreSQL cannot store; the
    // reply the user was shown is kept, minus NUL, with U+FFFD for the half pairs.
    const reply = storableDeep(shown);
    // Timestamps have millisecond precision: keep the reply strictly after its question.
    const at = new Date(Math.max(Date.now(), after.getTime() + 1)).toISOString();
    // One statement (see addUserMessage). A conversation deleted meanwhile gets nothing (the
    // check sees it gone, or, deleted while the statement runs, its foreign key does). Its
    // last activity only moves forward: an instance whose clock runs behind the last writer's
    // would otherwise move it down, past a reader's place, to be listed a second time.
    await prisma.$executeRaw`
      WITH reply AS (
        INSERT INTO "Message" ("id", "conversationId", "role", "content", "provider", "model", "status",
                               "promptTokens", "completionTokens", "latencyMs", "attempts", "createdAt")
        SELECT ${reply.id}, ${conversationId}, 'assistant', ${reply.content}, ${reply.provider}, ${reply.model}, ${reply.status},
               ${reply.promptTokens}::int, ${reply.completionTokens}::int, ${reply.latencyMs}::int, ${JSON.stringify(reply.attempts)}::jsonb,
               ${at}::timestamptz AT TIME ZONE 'UTC'
        WHERE EXISTS (SELECT 1 FROM "Conversation" WHERE "id" = ${conversationId})
      )
      UPDATE "Conversation" SET "updatedAt" = GREATEST("updatedAt" + interval '1 millisecond', ${at}::timestamptz AT TIME ZONE 'UTC')
      WHERE "id" = ${conversationId}`.catch(goneWithConversation);
  }

  /**
   * By last activity, newest first. The cursor is the place the reader saw (keyset-page.ts):
   * a conversation written to between two pages, the one the next page starts after included,
   * is neither shown again nor loses the rows below its old place.
   */
  async function list(viewer: Viewer, input: TConversationsListInput): Promise<{ items: TConversationSummary[]; nextCursor: string | null }> {
    const limit = input?.limit ?? 20;
    const visible = scope(viewer);
    // A plain id (the older cursor) is placed where its row is now, found among the viewer's own.
    const place = await cursorPlace(input?.cursor, async (id) => {
      const row = await prisma.conversation.findFirst({ where: { ...visible, id }, select: { updatedAt: true } });
      return row && { at: row.updatedAt, id };
    });
    const page = await keysetPage("updatedAt", limit, (take) =>
      prisma.conversation.findMany({
        // The place only narrows, by values, the rows the viewer may see: it shows no one else's.
        where: { ...visible, ...(place ? rowsBelow("updatedAt", place) : {}) },
        orderBy: [{ updatedAt: "desc" }, { id: "desc" }],
        include: { _count: { select: { messages: true } } },
        take,
      }),
    );
    return { items: page.items.map(toSummary), nextCursor: page.nextCursor };
  }

  /**
   * A conversation with its messages, oldest first: all of them, or the newest `limit` (before
   * the message `before`) and the cursor for the page before that.
   */
  async function get(viewer: Viewer, id: string, page: { limit?: number | undefined; before?: string | undefined } = {}): Promise<TConversation> {
    // One snapshot for the count, the cursor and the page: a reply stored or the conversation
    // deleted meanwhile cannot make "N more" disagree with the page, or a gone conversation a 400.
    // (The embedded database runs one transaction at a time: there the reads are a snapshot anyway.)
    return prisma.$transaction((tx) => readPage(tx, viewer, id, page), { isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead });
  }

  async function readPage(tx: Prisma.TransactionClient, viewer: Viewer, id: string, page: { limit?: number | undefined; before?: string | undefined }): Promise<TConversation> {
    const row = await tx.conversation.findFirst({ where: { id, ...scope(viewer) }, include: { _count: { select: { messages: true } } } });
    if (!row) throw notFound();
    // A message of another conversation would place the page in that one's history. (One of this
    // one, found in this snapshot, is there for the page's read too.)
    if (page.before && !(await tx.message.findFirst({ where: { id: page.before, conversationId: id }, select: { id: true } }))) {
      throw new AppError("BAD_REQUEST", "before is not a message of this conversation");
    }
    // Newest first, older than `before` in the order messages are shown: (createdAt, id).
    const newestFirst = await cursorPage(tx.message, { cursor: page.before, limit: page.limit }, (window) =>
      tx.message.findMany({ where: { conversationId: id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], ...window }),
    );
    const messages = newestFirst.items.reverse();
    return { ...toSummary(row), messages: messages.map(toMessage), olderCursor: newestFirst.nextCursor };
  }

  async function remove(viewer: Viewer, id: string): Promise<{ id: string; deleted: true }> {
    const { count } = await prisma.conversation.deleteMany({ where: { id, ...scope(viewer) } });
    if (count === 0) throw notFound();
    return { id, deleted: true };
  }

  /**
   * Stores a conversation the client held (an older backend's history) as the caller's own,
   * messages in the order given, so it can be continued with chat.send.
   */
  async function importConversation(userId: string, input: TConversationImportInput): Promise<TConversationImportOutput> {
    // Like a conversation started here, it is named after what the user asked: a system prompt
    // is instructions (often the same for every conversation), not what this one is about.
    const firstUser = input.messages.find((m) => m.role === "user")?.content ?? "";
    const title = conversationTitle(input.title || firstUser) || "Imported conversation";
    await ensureRoom(userId);
    const start = Date.now() - input.messages.length;
    // One millisecond apart, so the stored order is the given order.
    const row = await prisma.conversation.create({
      data: {
        userId,
        title,
        messages: {
          createMany: {
            data: input.messages.map((m, i) => ({ role: m.role, content: m.content, status: "complete", createdAt: new Date(start + i) })),
          },
        },
      },
      select: { id: true },
    });
    return { id: row.id, title, messageCount: input.messages.length };
  }

  return { addUserMessage, saveReply, list, get, remove, importConversation };
}

export type ConversationStore = ReturnType<typeof createConversationStore>;

type ConversationRow = { id: string; userId: string; title: string; createdAt: Date; updatedAt: Date; _count: { messages: number } };
type MessageRow = Prisma.MessageGetPayload<object>;

function toSummary(row: ConversationRow): TConversationSummary {
  return {
    id: row.id,
    userId: row.userId,
    title: row.title,
    messageCount: row._count.messages,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function toMessage(row: MessageRow): TChatMessage {
  return {
    id: row.id,
    role: row.role as TChatMessage["role"],
    content: row.content,
    provider: row.provider,
    model: row.model,
    status: row.status as TChatMessage["status"],
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    latencyMs: row.latencyMs,
    attempts: Array.isArray(row.attempts) ? (row.attempts as unknown as TChatAttempt[]) : null,
    createdAt: row.createdAt.toISOString(),
  };
}
