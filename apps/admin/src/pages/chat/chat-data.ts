import type { TChatStreamEvent, TChatStreamInput, TConversation, TConversationSummary } from "@switchboard/schema";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { messageOf } from "../../lib/errors.ts";
import { trpc } from "../../lib/trpc.ts";

const CHAT_KEY = ["chat"] as const;
const LIST_KEY = [...CHAT_KEY, "conversations"] as const;

export function useProviders() {
  return useQuery({ queryKey: [...CHAT_KEY, "providers"], queryFn: () => trpc.chat.providers.query() });
}

export function useConversations() {
  return useInfiniteQuery({
    queryKey: LIST_KEY,
    queryFn: ({ pageParam }) => trpc.chat.conversations.list.query({ limit: 30, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: { items: TConversationSummary[]; nextCursor: string | null }) => last.nextCursor ?? undefined,
  });
}

/** Messages the thread loads at a time: the newest first, older ones on request. */
export const MESSAGES_PER_PAGE = 50;

/** A conversation in pages, newest page first; `fetchNextPage` loads the one before. */
export function useConversation(id: string | null) {
  return useInfiniteQuery({
    queryKey: [...CHAT_KEY, "conversation", id],
    queryFn: ({ pageParam }) => trpc.chat.conversations.get.query({ id: id!, limit: MESSAGES_PER_PAGE, ...(pageParam ? { before: pageParam } : {}) }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: TConversation) => last.olderCursor ?? undefined,
    enabled: id !== null,
  });
}

export function useDeleteConversation() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => trpc.chat.conversations.delete.mutate({ id }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: LIST_KEY }),
  });
}

type Complete = Extract<TChatStreamEvent, { type: "chat_complete" }>;
type StreamError = Extract<TChatStreamEvent, { type: "error" }>;

/** The reply being streamed right now, shown until the stored conversation catches up. */
export interface LiveTurn {
  question: string;
  phase: "waiting" | "streaming" | "done" | "failed";
  content: string;
  conversationId: string | null;
  /** The reply's id once the server named it; the live view yields to the stored one. */
  messageId: string | null;
  provider: string | null;
  model: string | null;
  complete: Complete | null;
  error: Pick<StreamError, "code" | "message" | "attempts"> | null;
}

/**
 * Runs chat.stream and folds its events into one LiveTurn. When the turn ends (complete or
 * error) the stored conversation is refetched, so the page shows what the server kept.
 */
export function useChatStream(onConversation: (id: string) => void) {
  const queryClient = useQueryClient();
  const [turn, setTurn] = useState<LiveTurn | null>(null);
  const subscription = useRef<{ unsubscribe(): void } | null>(null);
  const onConversationRef = useRef(onConversation);
  onConversationRef.current = onConversation;

  useEffect(() => () => subscription.current?.unsubscribe(), []);

  const settle = useCallback(
    async (conversationId: string | null) => {
      subscription.current?.unsubscribe();
      subscription.current = null;
      await queryClient.invalidateQueries({ queryKey: CHAT_KEY });
      if (conversationId) onConversationRef.current(conversationId);
    },
    [queryClient],
  );

  const send = useCallback(
    (input: TChatStreamInput) => {
      subscription.current?.unsubscribe();
      setTurn({ question: input.message, phase: "waiting", content: "", conversationId: input.conversationId ?? null, messageId: null, provider: null, model: null, complete: null, error: null });
      subscription.current = trpc.chat.stream.subscribe(input, {
        onData(event) {
          if (event.type === "chat_start") {
            setTurn((t) => t && { ...t, phase: "streaming", conversationId: event.conversationId, messageId: event.messageId, provider: event.provider, model: event.model });
            onConversationRef.current(event.conversationId);
          } else if (event.type === "chat_delta") {
            setTurn((t) => t && { ...t, content: t.content + event.delta });
          } else if (event.type === "chat_complete") {
            setTurn((t) => t && { ...t, phase: "done", content: event.content, complete: event });
            void settle(event.conversationId);
          } else {
            setTurn((t) => t && { ...t, phase: "failed", error: event, messageId: event.messageId ?? t.messageId, conversationId: event.conversationId ?? t.conversationId });
            void settle(event.conversationId ?? null);
          }
        },
        onError(error) {
          setTurn((t) => t && { ...t, phase: "failed", error: { code: "INTERNAL", message: messageOf(error) } });
          void settle(null);
        },
      });
    },
    [settle],
  );

  /** Stops reading: the server aborts the upstream call and stores the partial reply. */
  const stop = useCallback(() => {
    subscription.current?.unsubscribe();
    subscription.current = null;
    setTurn((t) => t && (t.phase === "streaming" || t.phase === "waiting") ? { ...t, phase: "failed", error: { code: "ABORTED", message: "Stopped" } } : t);
    void queryClient.invalidateQueries({ queryKey: CHAT_KEY });
  }, [queryClient]);

  const clear = useCallback(() => setTurn(null), []);
  return { turn, send, stop, clear };
}
