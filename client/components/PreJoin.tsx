/**
 * The pre-join screen: camera preview, name, and the Join button — or, as
 * soon as the server says so, "Ask to join" at a locked room and the
 * password field at a password room. Its connection opens while it shows.
 */

import { useEffect, useState } from "preact/hooks";
import type { CallController } from "../call.ts";
import { MAX_NAME_LENGTH } from "../store.ts";
import { DeviceSettings } from "./DeviceSettings.tsx";
import { MediaToggles } from "./MediaToggles.tsx";
import { InviteButton } from "./InviteButton.tsx";
import { SelfView } from "./Video.tsx";

interface PreJoinProps {
  call: CallController;
  inviteUrl: string;
}

/** Preview and join form for one room. */
export function PreJoin({ call, inviteUrl }: PreJoinProps) {
  const { store } = call;
  const [name, setName] = useState(store.name.value);
  useEffect(() => {
    void call.media.startPreview();
  }, [call]);
  const phase = store.phase.value;
  const room = store.room.value;
  useEffect(() => {
    call.connect();
    // The server closes a connection left idle here; coming back opens one.
    const back = () => {
      if (document.visibilityState === "visible") call.connect();
    };
    const events = ["focus", "pointerdown", "keydown", "visibilitychange"];
    for (const event of events) addEventListener(event, back, true);
    return () => {
      for (const event of events) removeEventListener(event, back, true);
    };
  }, [call, phase, room]);
  const joining = phase === "joining";
  const stream = store.localStream.value;
  const hasVideo = (stream?.getVideoTracks().length ?? 0) > 0;
  const mediaError = store.mediaError.value;
  const gate = store.gate.value;
  const knocking = joining && gate === "knocking";
  const submit = (event: Event) => {
    event.preventDefault();
    call.join(name, { knock: gate === "locked" || gate === "busy" });
  };
  return (
    <main class="card prejoin">
      <h1>
        Join <span class="room-name">{store.room.value}</span>
      </h1>
      <div class="preview">
        <SelfView stream={stream} hidden={!hasVideo} />
        {!hasVideo && <div class="preview-off">Camera is off</div>}
        <div class="preview-controls">
          <MediaToggles call={call} />
        </div>
      </div>
      <DeviceSettings call={call} />
      {mediaError !== null && (
        <div class="alert" role="alert">
          <p>{mediaError}</p>
          <button type="button" onClick={() => void call.media.startPreview()}>
            Try camera again
          </button>
        </div>
      )}
      {store.error.value !== null && <p class="alert error" role="alert">{store.error.value}</p>}
      {gate === "locked" && (
        <p class="alert" role="status">This room is locked. Ask a host to let you in.</p>
      )}
      {knocking && (
        <div class="alert" role="status">
          <p>Waiting for a host to let you in…</p>
          <button type="button" onClick={() => call.leave()}>Cancel</button>
        </div>
      )}
      <form class="join-form" onSubmit={submit}>
        <label for="display-name">Name</label>
        <div class="row">
          <input
            id="display-name"
            value={name}
            maxLength={MAX_NAME_LENGTH}
            autocomplete="nickname"
            placeholder="Your name"
            required
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <button type="submit" class="primary" disabled={joining}>
            {knocking
              ? "Asking…"
              : joining
              ? "Joining…"
              : gate === "locked" || gate === "busy"
              ? "Ask to join"
              : "Join"}
          </button>
        </div>
        {gate === "password" && (
          <>
            <label for="room-password">Password</label>
            <input
              id="room-password"
              type="password"
              value={store.password.value}
              autocomplete="off"
              required
              onInput={(e) => store.setPassword(e.currentTarget.value)}
            />
          </>
        )}
        {stream === null && (
          <p class="hint">
            You will join without camera and microphone, and can still see and hear others.
          </p>
        )}
      </form>
      <InviteButton url={inviteUrl} />
    </main>
  );
}
