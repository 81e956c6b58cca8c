/** For hosts, in People: the room password and an invite link that carries it. */

import { useState } from "preact/hooks";
import type { CallController } from "../call.ts";

interface RoomSettingsProps {
  call: CallController;
  inviteUrl: string;
}

/**
 * The password goes to the server once and is kept there only as a salted
 * hash; the invite link carries it after `#`, which browsers never send.
 */
export function RoomSettings({ call, inviteUrl }: RoomSettingsProps) {
  const { store } = call;
  const [draft, setDraft] = useState("");
  const [copied, setCopied] = useState(false);
  const hasPassword = store.authority.value?.password ?? false;
  const linkPassword = store.password.value;
  return (
    <form
      class="room-settings"
      onSubmit={(e) => {
        e.preventDefault();
        if (draft === "") return;
        call.setRoomPassword(draft);
        store.setPassword(draft);
        setDraft("");
      }}
    >
      <label for="set-room-password">Room password</label>
      <div class="row">
        <input
          id="set-room-password"
          type="password"
          value={draft}
          maxLength={128}
          autocomplete="new-password"
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit">Set password</button>
      </div>
      {hasPassword && (
        <div class="row">
          <button
            type="button"
            onClick={() => {
              call.setRoomPassword(null);
              store.setPassword("");
            }}
          >
            Clear password
          </button>
          {linkPassword !== "" && (
            <button
              type="button"
              onClick={() => {
                const link = `${inviteUrl}#${new URLSearchParams({ password: linkPassword })}`;
                void navigator.clipboard?.writeText(link).then(() => setCopied(true), () => {});
              }}
            >
              Copy invite link with password
            </button>
          )}
        </div>
      )}
      <p class="hint" role="status">
        {copied
          ? "Link with password copied."
          : hasPassword
          ? "Newcomers need the password."
          : "No password: the link alone lets people in (unless the room is locked)."}
      </p>
    </form>
  );
}
