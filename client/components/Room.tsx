/** The call: participant grid, chat, the popovers and the control bar. */

import { useRef } from "preact/hooks";
import type { CallController } from "../call.ts";
import { Announcer } from "./Announcer.tsx";
import { ChatPanel } from "./ChatPanel.tsx";
import { Controls } from "./Controls.tsx";
import { DeviceSettings } from "./DeviceSettings.tsx";
import { LocalTile } from "./LocalTile.tsx";
import { KnockRequests } from "./KnockRequests.tsx";
import { ParticipantList } from "./ParticipantList.tsx";
import { RoomSettings } from "./RoomSettings.tsx";
import { TileMenu } from "./TileMenu.tsx";
import { Popover } from "./Popover.tsx";
import { RemoteTile } from "./RemoteTile.tsx";
import { ScreenTile } from "./ScreenTile.tsx";
import { SecurityCodeDialog } from "./SecurityCodeDialog.tsx";
import { ShortcutHelp } from "./ShortcutHelp.tsx";
import { useShortcuts } from "./use_shortcuts.ts";

interface RoomProps {
  call: CallController;
  inviteUrl: string;
}

/** Grid columns for `count` tiles, so tiles stay as large as possible. */
function columnsFor(count: number): number {
  return count <= 1 ? 1 : count <= 4 ? 2 : count <= 9 ? 3 : 4;
}

/** The in-call view. */
export function Room({ call, inviteUrl }: RoomProps) {
  const { store } = call;
  const panel = store.openPanel.value;
  const participants = store.participantList.value;
  const sinkId = store.selectedDevices.value.audiooutput;
  const ownScreen = store.screenStream.value;
  const screens = participants.filter((p) => p.screen !== null);
  const tileCount = participants.length + 1 + screens.length +
    (ownScreen !== null ? 1 : 0);
  const chatToggle = useRef<HTMLButtonElement>(null);
  const hosts = store.authority.value?.hosts ?? [];
  const lockOffer = store.lockOffer.value;
  useShortcuts(call);
  const securityDialog = store.securityDialog.value;
  const securityOf = securityDialog === null
    ? undefined
    : store.participants.value.get(securityDialog);

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
        {/* In the flow, under the title: it never covers a tile, the chat or the controls. */}
        <KnockRequests call={call} />
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
            speaker={store.activeSpeaker}
            host={store.isHost.value}
          />
          {participants.map((p) => (
            <RemoteTile
              key={p.id}
              participant={p}
              qualities={store.qualities}
              speaker={store.activeSpeaker}
              sinkId={sinkId}
              host={hosts.includes(p.id)}
              menu={
                <TileMenu
                  call={call}
                  peerId={p.id}
                  name={p.name}
                  isHost={hosts.includes(p.id)}
                  amHost={store.isHost.value}
                />
              }
            />
          ))}
        </section>
        <ChatPanel
          messages={store.chat.value}
          open={store.chatOpen.value}
          onSend={(text) => call.sendChat(text)}
          onClose={() => {
            store.toggleChat();
            // Back to the button that opened the overlay (phones).
            chatToggle.current?.focus();
          }}
        />
      </main>
      <Announcer items={store.announcements.value} />
      {lockOffer !== null && (
        <div class="alert floating" role="status">
          <p>{lockOffer} was removed. Lock the room so nobody else walks in?</p>
          <button type="button" class="primary" onClick={() => call.lockRoom(true)}>
            Lock the room now
          </button>{" "}
          <button type="button" onClick={() => store.dismissLockOffer()}>Not now</button>
        </div>
      )}
      {store.mediaError.value !== null && (
        <p class="alert floating" role="alert">{store.mediaError.value}</p>
      )}
      {panel === "people" && (
        <Popover title="People" onClose={() => store.closePanel()}>
          <ParticipantList call={call} />
          {store.isHost.value && <RoomSettings call={call} inviteUrl={inviteUrl} />}
        </Popover>
      )}
      {panel === "settings" && (
        <Popover title="Devices" onClose={() => store.closePanel()}>
          <DeviceSettings call={call} />
        </Popover>
      )}
      {panel === "help" && (
        <Popover title="Keyboard shortcuts" onClose={() => store.closePanel()}>
          <ShortcutHelp />
        </Popover>
      )}
      <Controls call={call} inviteUrl={inviteUrl} chatToggleRef={chatToggle} />
      {securityOf !== undefined && (
        <SecurityCodeDialog key={securityOf.id} call={call} participant={securityOf} />
      )}
    </div>
  );
}
