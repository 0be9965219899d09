import { listFailed, loadMore, pageRows } from "../../components/load-more.tsx";
import { timeAgo } from "../../lib/relative-time.ts";
import { messageOf } from "../../lib/errors.ts";
import { useConversations } from "./chat-data.ts";

export function ConversationList({ selectedId, onSelect, onNew }: { selectedId: string | null; onSelect: (id: string) => void; onNew: () => void }) {
  const list = useConversations();
  const items = pageRows(list.data?.pages, (c) => c.id);
  return (
    <nav className="card chat-list" aria-label="Conversations">
      <div className="chat-list-head">
        <h2>Conversations</h2>
        <button type="button" className="btn btn-small" onClick={onNew}>New chat</button>
      </div>
      {listFailed(list) ? <p className="alert alert-error">{messageOf(list.error)}</p> : null}
      {list.isSuccess && items.length === 0 ? <p className="muted chat-list-empty">No conversations yet.</p> : null}
      <ul>
        {items.map((c) => (
          <li key={c.id}>
            <button type="button" className="chat-list-item" aria-current={c.id === selectedId || undefined} onClick={() => onSelect(c.id)}>
              <span className="chat-list-title">{c.title}</span>
              <span className="muted">{c.messageCount} messages · {timeAgo(c.updatedAt)}</span>
            </button>
          </li>
        ))}
      </ul>
      {list.hasNextPage ? (
        <button type="button" className="btn btn-small btn-block" disabled={list.isFetchingNextPage} onClick={() => void loadMore(list)}>
          Load more
        </button>
      ) : null}
    </nav>
  );
}
