/** The call: participant grid, controls, chat, and the popovers. */

import { useEffect, useRef, useState } from "preact/hooks";
import type { CallController } from "../call.ts";
import { shortcutFor } from "../shortcuts.ts";
import { Announcer } from "./Announcer.tsx";
import { ChatPanel } from "./ChatPanel.tsx";
import { DeviceSettings } from "./DeviceSettings.tsx";
import { Icon } from "./Icon.tsx";
import { InviteButton } from "./InviteButton.tsx";
import { MediaToggles } from "./MediaToggles.tsx";
import { ParticipantList } from "./ParticipantList.tsx";
import { Popover } from "./Popover.tsx";
import { ShortcutHelp } from "./ShortcutHelp.tsx";
import { LocalTile, RemoteTile, ScreenTile } from "./Tile.tsx";

interface RoomProps {
  call: CallController;
  inviteUrl: string;
  chatOpen: boolean;
  onToggleChat(): void;
}

type Panel = "people" | "settings" | "help" | null;

/** Grid columns for `count` tiles, so tiles stay as large as possible. */
function columnsFor(count: number): number {
  return count <= 1 ? 1 : count <= 4 ? 2 : count <= 9 ? 3 : 4;
}

/** The in-call view. */
export function Room({ call, inviteUrl, chatOpen, onToggleChat }: RoomProps) {
  const { store } = call;
  const [panel, setPanel] = useState<Panel>(null);
  const toggle = (next: Panel) => setPanel(panel === next ? null : next);
  const participants = store.participantList.value;
  const speaker = store.activeSpeaker.value;
  const sinkId = store.selectedDevices.value.audiooutput;
  const ownScreen = store.screenStream.value;
  const sharing = ownScreen !== null;
  const screens = participants.filter((p) => p.screen !== null);
  const tileCount = participants.length + 1 + screens.length +
    (sharing ? 1 : 0);
  const unread = store.unread.value;
  const chatToggle = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      // Escape closes an open popover wherever the focus is.
      if (event.key === "Escape") {
        setPanel(null);
        return;
      }
      const action = shortcutFor({
        key: event.key,
        shiftKey: event.shiftKey,
        ctrlKey: event.ctrlKey,
        metaKey: event.metaKey,
        altKey: event.altKey,
        repeat: event.repeat,
        target: event.target as HTMLElement | null,
      });
      if (action === null) return;
      event.preventDefault();
      if (action === "mic") void call.toggleMic();
      else if (action === "camera") void call.toggleCamera();
      else if (action === "hand") call.toggleHand();
      else if (action === "chat") onToggleChat();
      else if (action === "leave") call.leave();
      else setPanel((p) => p === "help" ? null : "help");
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [call, onToggleChat]);

  const count = participants.length + 1;
  return (
    <div class="room">
      <header class="topbar">
        <h1 class="room-title">{store.room.value}</h1>
        <span class="count">
          {count === 1 ? "Only you" : `${count} people`}
        </span>
        {store.linkStatus.value === "reconnecting" && (
          <span class="link-status" role="status" data-link-status="reconnecting">
            Reconnecting to the server… your calls continue
          </span>
        )}
        {store.notice.value !== null && <p class="notice" role="status">{store.notice.value}</p>}
      </header>
      <main class="stage">
        <section
          class="grid"
          style={{ "--cols": String(columnsFor(tileCount)) }}
          aria-label="Participants"
        >
          {ownScreen !== null && (
            <ScreenTile ownerId="self" label="Your screen" stream={ownScreen} />
          )}
          {screens.map((p) => (
            <ScreenTile
              key={`screen-${p.id}`}
              ownerId={p.id}
              label={`${p.name}'s screen`}
              stream={p.screen!}
              sinkId={sinkId}
            />
          ))}
          <LocalTile
            name={store.name.value}
            stream={store.localStream.value}
            micOn={store.micOn.value}
            camOn={store.camOn.value}
            handRaised={store.handRaised.value}
            speaking={speaker === "self"}
          />
          {participants.map((p) => (
            <RemoteTile
              key={p.id}
              participant={p}
              speaking={speaker === p.id}
              sinkId={sinkId}
            />
          ))}
        </section>
        <ChatPanel
          messages={store.chat.value}
          open={chatOpen}
          onSend={(text) => call.sendChat(text)}
          onClose={() => {
            onToggleChat();
            // Back to the button that opened the overlay (phones).
            chatToggle.current?.focus();
          }}
        />
      </main>
      <Announcer items={store.announcements.value} />
      {store.mediaError.value !== null && (
        <p class="alert floating" role="alert">{store.mediaError.value}</p>
      )}
      {panel === "people" && (
        <Popover
          title="People"
          onClose={() => setPanel(null)}
        >
          <ParticipantList store={store} />
        </Popover>
      )}
      {panel === "settings" && (
        <Popover
          title="Devices"
          onClose={() => setPanel(null)}
        >
          <DeviceSettings call={call} />
        </Popover>
      )}
      {panel === "help" && (
        <Popover
          title="Keyboard shortcuts"
          onClose={() => setPanel(null)}
        >
          <ShortcutHelp />
        </Popover>
      )}
      <nav class="controls" aria-label="Call controls">
        <MediaToggles call={call} />
        {store.canShareScreen.value && (
          <button
            type="button"
            class="round toggle"
            aria-label="Share screen"
            title={sharing ? "Stop sharing" : "Share your screen"}
            aria-pressed={sharing}
            onClick={() => void call.toggleScreenShare()}
          >
            <Icon name="screen" />
          </button>
        )}
        <button
          type="button"
          class="round toggle"
          aria-label="Raise hand"
          title="Raise hand (H)"
          aria-pressed={store.handRaised.value}
          onClick={() => call.toggleHand()}
        >
          <Icon name="hand" />
        </button>
        <button
          type="button"
          class="round"
          aria-label="People"
          aria-expanded={panel === "people"}
          onClick={() => toggle("people")}
        >
          <Icon name="people" />
        </button>
        <button
          type="button"
          class="round"
          aria-label="Devices"
          aria-expanded={panel === "settings"}
          onClick={() => {
            void call.refreshDevices();
            toggle("settings");
          }}
        >
          <Icon name="settings" />
        </button>
        <InviteButton url={inviteUrl} compact />
        <button
          ref={chatToggle}
          type="button"
          class="round chat-toggle"
          aria-label={unread > 0 ? `Chat, ${unread} unread` : "Chat"}
          aria-expanded={chatOpen}
          onClick={onToggleChat}
        >
          <Icon name="chat" />
          {unread > 0 && <span class="unread" aria-hidden="true">{unread}</span>}
        </button>
        <button
          type="button"
          class="round"
          aria-label="Keyboard shortcuts"
          aria-expanded={panel === "help"}
          onClick={() => toggle("help")}
        >
          <Icon name="help" />
        </button>
        <button
          type="button"
          class="leave"
          onClick={() => call.leave()}
          title="Leave (Shift+L)"
        >
          <Icon name="leave" />
          <span>Leave</span>
        </button>
      </nav>
    </div>
  );
}
