/** The call: participant grid, controls, and chat. */

import type { CallController } from "../call.ts";
import { ChatPanel } from "./ChatPanel.tsx";
import { Icon } from "./Icon.tsx";
import { InviteButton } from "./InviteButton.tsx";
import { LocalTile, RemoteTile } from "./Tile.tsx";

interface RoomProps {
  call: CallController;
  inviteUrl: string;
  chatOpen: boolean;
  onToggleChat(): void;
}

/** Grid columns for `count` tiles, so tiles stay as large as possible. */
function columnsFor(count: number): number {
  return count <= 1 ? 1 : count <= 4 ? 2 : count <= 9 ? 3 : 4;
}

/** The in-call view. */
export function Room({ call, inviteUrl, chatOpen, onToggleChat }: RoomProps) {
  const { store } = call;
  const participants = store.participantList.value;
  const count = participants.length + 1;
  const unread = store.unread.value;
  return (
    <div class="room">
      <header class="topbar">
        <span class="room-title">{store.room.value}</span>
        <span class="count">
          {count === 1 ? "Only you" : `${count} people`}
        </span>
        {store.notice.value !== null && (
          <p class="notice" role="status">{store.notice.value}</p>
        )}
      </header>
      <main class="stage">
        <section
          class="grid"
          style={{ "--cols": String(columnsFor(count)) }}
          aria-label="Participants"
        >
          <LocalTile
            name={store.name.value}
            stream={store.localStream.value}
            micOn={store.micOn.value}
            camOn={store.camOn.value}
          />
          {participants.map((p) => <RemoteTile key={p.id} participant={p} />)}
        </section>
        <ChatPanel
          messages={store.chat.value}
          open={chatOpen}
          onSend={(text) => call.sendChat(text)}
          onClose={onToggleChat}
        />
      </main>
      {store.mediaError.value !== null && (
        <p class="alert floating" role="alert">{store.mediaError.value}</p>
      )}
      <nav class="controls" aria-label="Call controls">
        <button
          type="button"
          class="round"
          aria-label="Microphone"
          title={store.micOn.value ? "Mute microphone" : "Unmute microphone"}
          aria-pressed={store.micOn.value}
          onClick={() => void call.toggleMic()}
        >
          <Icon name={store.micOn.value ? "mic" : "micOff"} />
        </button>
        <button
          type="button"
          class="round"
          aria-label="Camera"
          title={store.camOn.value ? "Turn camera off" : "Turn camera on"}
          aria-pressed={store.camOn.value}
          onClick={() => void call.toggleCamera()}
        >
          <Icon name={store.camOn.value ? "cam" : "camOff"} />
        </button>
        <InviteButton url={inviteUrl} compact />
        <button
          type="button"
          class="round chat-toggle"
          aria-label={unread > 0 ? `Chat, ${unread} unread` : "Chat"}
          aria-expanded={chatOpen}
          onClick={onToggleChat}
        >
          <Icon name="chat" />
          {unread > 0 && <span class="unread" aria-hidden="true">{unread}
          </span>}
        </button>
        <button type="button" class="leave" onClick={() => call.leave()}>
          <Icon name="leave" />
          <span>Leave</span>
        </button>
      </nav>
    </div>
  );
}
