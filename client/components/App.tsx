/** Top-level screen switch: lobby, pre-join, or the room. */

import { useState } from "preact/hooks";
import type { CallController } from "../call.ts";
import { Lobby } from "./Lobby.tsx";
import { PreJoin } from "./PreJoin.tsx";
import { Room } from "./Room.tsx";

interface AppProps {
  call: CallController;
  origin: string;
  onEnterRoom(room: string): void;
  /** Reports whether the chat panel is shown (for unread counts). */
  chatState: { open: boolean };
}

/** The whole app. */
export function App({ call, origin, onEnterRoom, chatState }: AppProps) {
  const { store } = call;
  const [chatOpen, setChatOpen] = useState(chatState.open);
  const phase = store.phase.value;
  if (phase === "lobby") return <Lobby onEnter={onEnterRoom} />;
  const inviteUrl = `${origin}/r/${store.room.value}`;
  if (phase === "in-call") {
    return (
      <Room
        call={call}
        inviteUrl={inviteUrl}
        chatOpen={chatOpen}
        onToggleChat={() => {
          chatState.open = !chatOpen;
          setChatOpen(!chatOpen);
          store.markChatRead();
        }}
      />
    );
  }
  return <PreJoin call={call} inviteUrl={inviteUrl} />;
}
