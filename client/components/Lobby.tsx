/** The landing page: start a new room or join one by name. */

import { useState } from "preact/hooks";
import { isValidChannel } from "../../lib/protocol.ts";
import { randomRoomName } from "../room_name.ts";

interface LobbyProps {
  onEnter(room: string): void;
}

/** Create-or-join form. */
export function Lobby({ onEnter }: LobbyProps) {
  const [room, setRoom] = useState("");
  const [invalid, setInvalid] = useState(false);
  const submit = (event: Event) => {
    event.preventDefault();
    const name = room.trim();
    if (!isValidChannel(name)) {
      setInvalid(true);
      return;
    }
    onEnter(name);
  };
  return (
    <main class="card lobby">
      <h1>Mesh rooms</h1>
      <p class="lead">
        Video calls straight between browsers. No account, no install, no media server.
      </p>
      <button
        type="button"
        class="primary wide"
        onClick={() => onEnter(randomRoomName())}
      >
        New room
      </button>
      <form class="join-form" onSubmit={submit}>
        <label for="room-name">Room name</label>
        <div class="row">
          <input
            id="room-name"
            value={room}
            placeholder="e.g. team-standup"
            maxLength={64}
            aria-invalid={invalid}
            aria-describedby="room-hint"
            onInput={(e) => {
              setRoom(e.currentTarget.value);
              setInvalid(false);
            }}
          />
          <button type="submit">Go</button>
        </div>
        <p id="room-hint" class={invalid ? "hint error-text" : "hint"}>
          Letters, digits, dots, dashes and underscores; up to 64.
        </p>
      </form>
    </main>
  );
}
