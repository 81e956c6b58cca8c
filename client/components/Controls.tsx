/** The call's control bar: media, screen, hand, the popovers, invite, chat and Leave. */

import type { RefObject } from "preact";
import type { CallController } from "../call.ts";
import { Icon } from "./Icon.tsx";
import { InviteButton } from "./InviteButton.tsx";
import { MediaToggles } from "./MediaToggles.tsx";
import { PanelButton } from "./PanelButton.tsx";
import { ToggleButton } from "./ToggleButton.tsx";

interface ControlsProps {
  call: CallController;
  inviteUrl: string;
  /** The chat button, so closing the chat overlay can give it focus back. */
  chatToggleRef: RefObject<HTMLButtonElement | null>;
}

/** The buttons; `aria-pressed` for toggles, `aria-expanded` for what opens a panel. */
export function Controls({ call, inviteUrl, chatToggleRef }: ControlsProps) {
  const { store } = call;
  const sharing = store.screenStream.value !== null;
  const locked = store.authority.value?.locked ?? false;
  const unread = store.unread.value;
  return (
    <nav class="controls" aria-label="Call controls">
      <MediaToggles call={call} />
      {store.canShareScreen.value && (
        <ToggleButton
          label="Share screen"
          title={sharing ? "Stop sharing" : "Share your screen"}
          pressed={sharing}
          icon="screen"
          onClick={() => void call.media.toggleScreenShare()}
        />
      )}
      <ToggleButton
        label="Raise hand"
        title="Raise hand (H)"
        pressed={store.handRaised.value}
        icon="hand"
        onClick={() => call.toggleHand()}
      />
      {store.isHost.value && (
        <ToggleButton
          label="Lock room"
          title={locked ? "Unlock the room" : "Lock the room: newcomers must ask to join"}
          pressed={locked}
          icon="lock"
          onClick={() => call.lockRoom(!locked)}
        />
      )}
      <PanelButton store={store} panel="people" label="People" icon="people" />
      <PanelButton
        store={store}
        panel="settings"
        label="Devices"
        icon="settings"
        onToggle={() => void call.media.refreshDevices()}
      />
      <InviteButton url={inviteUrl} compact />
      <button
        ref={chatToggleRef}
        type="button"
        class="round chat-toggle"
        aria-label={unread > 0 ? `Chat, ${unread} unread` : "Chat"}
        aria-expanded={store.chatOpen.value}
        onClick={() => store.toggleChat()}
      >
        <Icon name="chat" />
        {unread > 0 && <span class="unread" aria-hidden="true">{unread}</span>}
      </button>
      <PanelButton store={store} panel="help" label="Keyboard shortcuts" icon="help" />
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
  );
}
