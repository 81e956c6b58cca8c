/** Top-level screen switch: lobby, pre-join, or the room. */

import type { CallController } from "../call.ts";
import { Lobby } from "./Lobby.tsx";
import { PreJoin } from "./PreJoin.tsx";
import { Room } from "./Room.tsx";

interface AppProps {
  call: CallController;
  origin: string;
  onEnterRoom(room: string): void;
}

/** The whole app. */
export function App({ call, origin, onEnterRoom }: AppProps) {
  const { store } = call;
  const phase = store.phase.value;
  if (phase === "lobby") return <Lobby onEnter={onEnterRoom} />;
  const inviteUrl = `${origin}/r/${store.room.value}`;
  if (phase === "in-call") return <Room call={call} inviteUrl={inviteUrl} />;
  return <PreJoin call={call} inviteUrl={inviteUrl} />;
}
