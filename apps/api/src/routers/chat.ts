import { z } from "zod";
import {
  ZChatProvider,
  ZChatSendInput,
  ZChatSendOutput,
  ZChatStreamInput,
  ZClarifyInput,
  ZClarifyOutput,
  ZConversation,
  ZConversationGetInput,
  ZConversationIdInput,
  ZConversationImportInput,
  ZConversationImportOutput,
  ZConversationSummary,
  ZConversationsListInput,
  pageOf,
} from "@switchboard/schema";
import { callerOf } from "../trpc/context.ts";
import { router, userProcedure } from "../trpc/init.ts";

const conversationsRouter = router({
  list: userProcedure
    .meta({ feature: "chat", keyScope: "chat" })
    .input(ZConversationsListInput)
    .output(pageOf(ZConversationSummary))
    .query(({ ctx, input }) => ctx.deps.chat.conversations.list(ctx.user, input)),

  get: userProcedure
    .meta({ feature: "chat", keyScope: "chat" })
    .input(ZConversationGetInput)
    .output(ZConversation)
    .query(({ ctx, input }) => ctx.deps.chat.conversations.get(ctx.user, input.id, input)),

  delete: userProcedure
    .meta({ feature: "chat", keyScope: "chat" })
    .input(ZConversationIdInput)
    .output(z.object({ id: z.string(), deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => ctx.deps.chat.conversations.remove(ctx.user, input.id)),

  /** Stores a conversation the client held elsewhere as the caller's own; answers its id. */
  import: userProcedure
    .meta({ feature: "chat", keyScope: "chat" })
    .input(ZConversationImportInput)
    .output(ZConversationImportOutput)
    .mutation(({ ctx, input }) => ctx.deps.chat.conversations.import(ctx.user.id, input)),
});

export const chatRouter = router({
  send: userProcedure
    .meta({ feature: "chat", keyScope: "chat", metered: true })
    .input(ZChatSendInput)
    .output(ZChatSendOutput)
    .mutation(({ ctx, input }) => ctx.deps.chat.send(ctx.user, input, callerOf(ctx.req))),

  /** SSE: chat_start, chat_delta…, then chat_complete or error (see TChatStreamEvent). */
  stream: userProcedure
    .meta({ feature: "chat", keyScope: "chat", metered: true })
    .input(ZChatStreamInput)
    .subscription(({ ctx, input, signal }) => ctx.deps.chat.stream(ctx.user, input, callerOf(ctx.req, signal))),

  clarify: userProcedure
    .meta({ feature: "chat", keyScope: "chat", metered: true })
    .input(ZClarifyInput)
    .output(ZClarifyOutput)
    .mutation(({ ctx, input }) => ctx.deps.chat.clarify(ctx.user, input, callerOf(ctx.req))),

  providers: userProcedure
    .meta({ feature: "chat", keyScope: "models" })
    .output(z.array(ZChatProvider)).query(({ ctx }) => ctx.deps.chat.providers(ctx.user)),

  conversations: conversationsRouter,
});
