import type { TChatMessage, TProviderId } from "@switchboard/schema";
import { useEffect, useRef, useState } from "react";
import { PageHeader } from "../../components/page-header.tsx";
import { messageOf } from "../../lib/errors.ts";
import { useChatStream, useConversation, useDeleteConversation, useProviders, type LiveTurn } from "./chat-data.ts";
import { Composer } from "./composer.tsx";
import { ConversationList } from "./conversation-list.tsx";
import { MessageBubble } from "./message-bubble.tsx";
import "./chat.css";

export function ChatPage() {
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const providers = useProviders();
  const conversation = useConversation(selectedId);
  const remove = useDeleteConversation();
  const { turn, send, stop, clear } = useChatStream(setSelectedId);
  const endRef = useRef<HTMLDivElement>(null);

  const pages = selectedId && conversation.data?.pages[0]?.id === selectedId ? conversation.data.pages : [];
  // Pages come newest first; the thread reads oldest first.
  const stored = [...pages].reverse().flatMap((p) => p.messages);
  // The live turn shows until the stored conversation contains its reply.
  const showLive = turn !== null && !(turn.messageId && stored.some((m) => m.id === turn.messageId));
  const busy = turn?.phase === "waiting" || turn?.phase === "streaming";

  useEffect(() => {
    // A block body on purpose: newer Chromium returns a promise from scrollIntoView, and an
    // effect must return nothing or a cleanup function.
    endRef.current?.scrollIntoView({ block: "end" });
    // The newest message, not the count: loading older messages keeps the reader's place.
  }, [stored.at(-1)?.id, turn?.content, turn?.phase]);

  const open = (id: string | null) => {
    if (busy) stop();
    clear();
    setSelectedId(id);
  };
  const onSend = (message: string, provider: TProviderId | undefined) =>
    send({ message, ...(selectedId ? { conversationId: selectedId } : {}), ...(provider ? { provider } : {}) });

  return (
    <>
      <PageHeader title="Chat" description="Talk to the models behind the gateway: replies stream through the provider fallback chain." />
      <div className="chat">
        <ConversationList selectedId={selectedId} onSelect={open} onNew={() => open(null)} />
        <section className="chat-main" aria-label="Conversation">
          <div className="card chat-thread">
            <div className="chat-thread-head">
              <h2>{selectedId ? (pages[0]?.title ?? "Conversation") : "New conversation"}</h2>
              {selectedId && !busy ? (
                <button type="button" className="btn btn-small btn-danger-ghost" disabled={remove.isPending} onClick={() => remove.mutate(selectedId, { onSuccess: () => open(null) })}>
                  Delete
                </button>
              ) : null}
            </div>
            {conversation.isError ? <p className="alert alert-error">{messageOf(conversation.error)}</p> : null}
            <div className="chat-messages" aria-live="polite">
              {conversation.hasNextPage && pages.length > 0 ? (
                <button type="button" className="btn btn-small chat-earlier" disabled={conversation.isFetching} onClick={() => void conversation.fetchNextPage()}>
                  {conversation.isFetchingNextPage ? "Loading…" : `Show earlier messages (${pages[0]!.messageCount - stored.length} more)`}
                </button>
              ) : null}
              {stored.length === 0 && !showLive ? <p className="muted chat-empty">Send a message to start. Pick a provider to pin it, or leave Auto to use the fallback chain.</p> : null}
              {stored.map((m) => <StoredMessage key={m.id} message={m} />)}
              {showLive && turn ? <LiveMessages turn={turn} /> : null}
              <div ref={endRef} />
            </div>
          </div>
          <Composer providers={providers.data ?? []} busy={busy} onSend={onSend} onStop={stop} />
        </section>
      </div>
    </>
  );
}

function StoredMessage({ message: m }: { message: TChatMessage }) {
  if (m.role !== "assistant") return <MessageBubble role={m.role} content={m.content} />;
  return (
    <MessageBubble
      role="assistant"
      content={m.content}
      meta={{ provider: m.provider, model: m.model, status: m.status, promptTokens: m.promptTokens, completionTokens: m.completionTokens, latencyMs: m.latencyMs, attempts: m.attempts }}
    />
  );
}

function LiveMessages({ turn }: { turn: LiveTurn }) {
  const done = turn.complete;
  const status = turn.phase === "done" ? "complete" : turn.phase === "failed" ? (turn.content ? "incomplete" : "failed") : turn.phase;
  return (
    <>
      <MessageBubble role="user" content={turn.question} />
      <MessageBubble
        role="assistant"
        content={turn.content}
        meta={{
          provider: turn.provider,
          model: turn.model,
          status,
          promptTokens: done?.usage.promptTokens ?? null,
          completionTokens: done?.usage.completionTokens ?? null,
          latencyMs: done?.latencyMs ?? null,
          attempts: done?.attempts ?? turn.error?.attempts ?? null,
          error: turn.error ? `${turn.error.message} (${turn.error.code})` : null,
        }}
      />
    </>
  );
}
