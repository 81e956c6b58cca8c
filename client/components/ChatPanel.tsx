/** Room chat: messages go peer to peer over data channels. */

import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatMessage } from "../store.ts";
import { MAX_CHAT_LENGTH } from "../peer_message.ts";

interface ChatPanelProps {
  messages: readonly ChatMessage[];
  open: boolean;
  onSend(text: string): boolean;
  onClose(): void;
}

const TIME = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
});

/** The message list and the Message field (Enter sends). */
export function ChatPanel({ messages, open, onSend, onClose }: ChatPanelProps) {
  const [draft, setDraft] = useState("");
  const list = useRef<HTMLOListElement>(null);
  const field = useRef<HTMLInputElement>(null);
  const wasOpen = useRef(open);
  useEffect(() => {
    // Opening the chat (the phone overlay, or C) puts the cursor in the field.
    if (open && !wasOpen.current) field.current?.focus();
    wasOpen.current = open;
  }, [open]);
  useEffect(() => {
    const el = list.current;
    if (el !== null) el.scrollTop = el.scrollHeight;
  }, [messages.length]);
  const submit = (event: Event) => {
    event.preventDefault();
    if (draft.trim() === "") return;
    if (onSend(draft)) setDraft("");
  };
  return (
    <aside class={open ? "chat open" : "chat"} aria-label="Chat">
      <div class="chat-header">
        <h2>Chat</h2>
        <button
          type="button"
          class="close-chat"
          aria-label="Close chat"
          onClick={onClose}
        >
          ×
        </button>
      </div>
      {/* Not a live region: the room's announcer speaks new messages once. */}
      <ol class="messages" ref={list}>
        {messages.length === 0 && (
          <li class="empty">Messages go straight to everyone in the room.</li>
        )}
        {messages.map((m) => (
          <li key={m.id} class={m.from === null ? "message own" : "message"}>
            <span class="meta">
              <span class="sender">{m.from === null ? "You" : m.name}</span>{" "}
              <time dateTime={new Date(m.at).toISOString()}>
                {TIME.format(m.at)}
              </time>
            </span>
            <span class="text">{m.text}</span>
          </li>
        ))}
      </ol>
      <form class="chat-form" onSubmit={submit}>
        <input
          ref={field}
          aria-label="Message"
          placeholder="Message"
          value={draft}
          maxLength={MAX_CHAT_LENGTH}
          autocomplete="off"
          enterKeyHint="send"
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit">Send</button>
      </form>
    </aside>
  );
}
