/**
 * The call's state as signals, with the actions that change it. No DOM and
 * no WebRTC here, so every rule about what the user sees is testable in
 * `deno test`. Only this module writes the signals: outside it they are
 * `ReadonlySignal`s, and the call controller, the mesh, local media, the
 * monitor and the components change them through the actions below, named
 * for what happened (`tests/store_test.ts` checks that nobody else writes).
 *
 * @module
 */

import {
  computed,
  createModel,
  type ReadonlySignal,
  type Signal,
  signal,
} from "@preact/signals-core";
import type { PeerQuality } from "./quality.ts";
import type { LinkStatus } from "./signaling.ts";
import {
  type Announcement,
  type CallModelOptions,
  type ChatMessage,
  type DeviceChoice,
  type DeviceLists,
  type Door,
  type Gate,
  type InputKind,
  type Knock,
  MAX_ANNOUNCEMENTS,
  MAX_CHAT_MESSAGES,
  type Panel,
  type Participant,
  PENDING_SECURITY,
  type Phase,
  type RoomAuthority,
} from "./store_types.ts";

export * from "./store_types.ts";
export { cleanName, MAX_NAME_LENGTH } from "../lib/protocol.ts";

/** Signals as readers outside this module see them: they read, the actions write. */
type Readable<T> = {
  readonly [K in keyof T]: T[K] extends Signal<infer V> ? ReadonlySignal<V> : T[K];
};

function readable<T extends Record<string, ReadonlySignal<unknown>>>(signals: T): Readable<T> {
  return signals as Readable<T>;
}

/** The signals model of one browser tab's call. */
export const CallModel = createModel((options: CallModelOptions) => {
  const phase = signal<Phase>(options.room === null ? "lobby" : "prejoin");
  const room = signal<string | null>(options.room);
  const name = signal(options.name);
  const selfId = signal<string | null>(null);
  const localStream = signal<MediaStream | null>(null);
  const micOn = signal(true);
  const camOn = signal(true);
  /** Why the camera or microphone is unavailable, in words; `null` if fine. */
  const mediaError = signal<string | null>(null);
  const participants = signal<ReadonlyMap<string, Participant>>(new Map());
  /** The room's hosts, lock and password flag; `null` from servers without room authority. */
  const authority = signal<RoomAuthority | null>(null);
  /** Whether we are one of the room's hosts. */
  const isHost = computed(() =>
    selfId.value !== null && (authority.value?.hosts.includes(selfId.value) ?? false)
  );
  /** People waiting to be let in (hosts only). */
  const knocks = signal<readonly Knock[]>([]);
  /** What stands between us and the room, when something does. */
  const gate = signal<Gate>(null);
  /** The room password to join with (from the invite link's `#`, or typed). */
  const password = signal(options.password ?? "");
  /** Whom a host just removed, while we offer to lock the room behind them. */
  const lockOffer = signal<string | null>(null);
  const chat = signal<readonly ChatMessage[]>([]);
  /** Why the last attempt failed, in words for the user; `null` if none. */
  const error = signal<string | null>(null);
  /** A non-blocking status line (for example, the server went away). */
  const notice = signal<string | null>(null);
  const unread = signal(0);
  const handRaised = signal(false);
  /** Our own screen share, while sharing. */
  const screenStream = signal<MediaStream | null>(null);
  /** The participant speaking now: a peer id, `"self"`, or `null`. */
  const activeSpeaker = signal<string | null>(null);
  const devices = signal<DeviceLists>({ audioinput: [], videoinput: [], audiooutput: [] });
  const selectedDevices = signal<DeviceChoice>({ audioinput: "", videoinput: "", audiooutput: "" });
  /** Our link to the signaling server. */
  const linkStatus = signal<LinkStatus>("connecting");
  /** Whether the browser can route audio to a chosen speaker. */
  const canPickSpeaker = signal(options.canPickSpeaker ?? false);
  /** Whether this browser can share a screen (phones cannot). */
  const canShareScreen = signal(options.canShareScreen ?? false);
  /**
   * What the polite live region says: joins, leaves, chat messages and
   * raised hands — never stats or quality changes, which would drown them.
   */
  const announcements = signal<readonly Announcement[]>([]);
  /** Whether the chat panel is open (on a phone: the overlay is showing). */
  const chatOpen = signal(options.chatOpen ?? false);
  /** The popover showing in the call, if any. */
  const openPanel = signal<Panel | null>(null);
  /** Whose security code dialog is open (a peer id), if anyone's. */
  const securityDialog = signal<string | null>(null);
  /**
   * Whether our DTLS certificate is kept in this browser (codes stay the
   * same across meetings); `false`: one per page; `null`: not known yet.
   */
  const certificatePersistent = signal<boolean | null>(null);
  const participantList = computed(() => [...participants.value.values()]);
  /**
   * Each remote participant's latest stats, apart from the participants:
   * a sample every half second re-renders the quality indicators, not the
   * room.
   */
  const qualities = signal<ReadonlyMap<string, PeerQuality>>(new Map());
  let chatId = 0;
  let announcementId = 0;

  function announce(text: string) {
    announcements.value = [...announcements.value, { id: ++announcementId, text }]
      .slice(-MAX_ANNOUNCEMENTS);
  }

  function patchParticipant(
    id: string,
    patch: Partial<Omit<Participant, "id">>,
  ) {
    const current = participants.value.get(id);
    if (current === undefined) return;
    // Nothing changes (a sample that found the same): no new map, no render.
    const keys = Object.keys(patch) as (keyof typeof patch)[];
    if (keys.every((key) => Object.is(current[key], patch[key]))) return;
    const next = new Map(participants.value);
    next.set(id, { ...current, ...patch });
    participants.value = next;
    if (patch.handRaised === true && !current.handRaised) {
      announce(`${current.name} raised a hand`);
    }
  }

  /** Moves to `next`; leaving the call forgets everyone in it. */
  function setPhase(next: Phase) {
    phase.value = next;
    // Popovers belong to the call screen; the chat keeps its place.
    if (next !== "in-call") openPanel.value = null;
    if (next !== "in-call") securityDialog.value = null;
    if (next !== "in-call" && next !== "joining") {
      participants.value = new Map();
      qualities.value = new Map();
      chat.value = [];
      unread.value = 0;
      selfId.value = null;
      activeSpeaker.value = null;
      handRaised.value = false;
      notice.value = null;
      announcements.value = [];
      authority.value = null;
      knocks.value = [];
      lockOffer.value = null;
    }
    if (next === "in-call") gate.value = null;
  }

  return {
    ...readable({
      phase,
      room,
      name,
      selfId,
      localStream,
      micOn,
      camOn,
      mediaError,
      participants,
      participantList,
      qualities,
      chat,
      error,
      notice,
      unread,
      handRaised,
      screenStream,
      activeSpeaker,
      devices,
      selectedDevices,
      canPickSpeaker,
      canShareScreen,
      linkStatus,
      authority,
      isHost,
      knocks,
      gate,
      password,
      lockOffer,
      announcements,
      chatOpen,
      openPanel,
      securityDialog,
      certificatePersistent,
    }),
    announce,
    setPhase,

    /** Goes to the pre-join screen of `roomName`. */
    enterRoom(roomName: string) {
      room.value = roomName;
      phase.value = "prejoin";
      error.value = null;
    },
    /** Back to the lobby, out of any room (the browser's back button). */
    backToLobby() {
      room.value = null;
      setPhase("lobby");
    },
    /** Starts joining as `displayName`: the last failure is forgotten, the link connects. */
    startJoining(displayName: string) {
      name.value = displayName;
      error.value = null;
      setPhase("joining");
      linkStatus.value = "connecting";
    },
    /** Our link to the signaling server is now `status`. */
    setLinkStatus(status: LinkStatus) {
      linkStatus.value = status;
    },
    /** The server welcomed us as `peerId`. */
    welcomed(peerId: string) {
      selfId.value = peerId;
    },
    /** What stands between us and the room now (`null`: nothing). */
    setGate(next: Gate) {
      gate.value = next;
    },
    /**
     * The server says what stands at the room's door now (asked from the
     * pre-join screen, and again whenever it changes): a lock offers
     * "Ask to join", a password the field. A password room that refuses
     * tries for now (`busy`) still offers knocking.
     */
    doorSeen(door: Door) {
      if (phase.value !== "prejoin") return;
      if (door === "locked") gate.value = "locked";
      else if (door === "open") gate.value = null;
      else if (gate.value !== "busy") gate.value = "password";
    },
    /** The room password we join with, as typed, set or cleared (`""`). */
    setPassword(text: string) {
      password.value = text;
    },
    /** The room's hosts, lock and password flag, as the server says them now. */
    setAuthority(state: RoomAuthority) {
      authority.value = { hosts: state.hosts, locked: state.locked, password: state.password };
    },
    /** Shows who is asking to join, announcing newcomers to the list. */
    setKnocks(next: readonly Knock[]) {
      const before = new Set(knocks.value.map((k) => k.id));
      for (const k of next) if (!before.has(k.id)) announce(`${k.name} asks to join`);
      knocks.value = next;
    },
    /** We removed `removed`: offer to lock the room behind them, unless it is locked. */
    offerLock(removed: string) {
      if (authority.value?.locked === false) lockOffer.value = removed;
    },
    /** The lock offer is taken up or turned down. */
    dismissLockOffer() {
      lockOffer.value = null;
    },
    /** Shows `message` as the reason the user is not in the call. */
    fail(message: string) {
      error.value = message;
    },
    /** Shows `text` on the status line (it does not block the call). */
    notify(text: string) {
      notice.value = text;
    },
    /** Clears the status line. */
    clearNotice() {
      notice.value = null;
    },
    /** Raises or lowers our hand. */
    toggleHand() {
      handRaised.value = !handRaised.value;
    },
    /** The participant speaking now: a peer id, `"self"`, or `null`. */
    setActiveSpeaker(id: string | null) {
      activeSpeaker.value = id;
    },
    /** Our preview shows `stream` (a display copy), or nothing. */
    showLocalStream(stream: MediaStream | null) {
      localStream.value = stream;
    },
    /** Whether our microphone is on. */
    setMicOn(on: boolean) {
      micOn.value = on;
    },
    /** Whether our camera is on. */
    setCamOn(on: boolean) {
      camOn.value = on;
    },
    /** Says why the camera or microphone is unavailable. */
    mediaFailed(why: string) {
      mediaError.value = why;
    },
    /** The camera and microphone work (again). */
    clearMediaError() {
      mediaError.value = null;
    },
    /** Our screen share, or `null` when it ends. */
    setScreenShare(stream: MediaStream | null) {
      screenStream.value = stream;
    },
    /**
     * Shows the devices in `lists`; a chosen one that was unplugged falls
     * back to the default. Returns the last camera or microphone that did.
     */
    listDevices(lists: DeviceLists): InputKind | null {
      devices.value = lists;
      const selected = { ...selectedDevices.value };
      let lost: InputKind | null = null;
      for (const kind of Object.keys(selected) as (keyof DeviceChoice)[]) {
        if (selected[kind] !== "" && !lists[kind].some((d) => d.id === selected[kind])) {
          selected[kind] = "";
          if (kind !== "audiooutput") lost = kind;
        }
      }
      selectedDevices.value = selected;
      return lost;
    },
    /** Chooses `deviceId` (`""`: the browser's default) for `kind`. */
    chooseDevice(kind: keyof DeviceChoice, deviceId: string) {
      selectedDevices.value = { ...selectedDevices.value, [kind]: deviceId };
    },
    /**
     * Adds someone who shares our room; `announce` says they joined (for
     * people who arrive after us, not those we find there).
     */
    addParticipant(id: string, displayName: string, { announce: isNew = false } = {}) {
      if (participants.value.has(id)) return;
      if (isNew) announce(`${displayName} joined`);
      const next = new Map(participants.value);
      next.set(id, {
        id,
        name: displayName,
        stream: null,
        screen: null,
        micOn: true,
        camOn: true,
        handRaised: false,
        diagnosis: null,
        away: false,
        connection: "new",
        security: PENDING_SECURITY,
      });
      participants.value = next;
    },
    /** Removes someone; `announce` (default true) says they left. */
    removeParticipant(id: string, { announce: said = true } = {}) {
      const gone = participants.value.get(id);
      if (gone === undefined) return;
      if (said) announce(`${gone.name} left`);
      const next = new Map(participants.value);
      next.delete(id);
      participants.value = next;
      if (securityDialog.value === id) securityDialog.value = null;
      if (qualities.value.has(id)) {
        const rest = new Map(qualities.value);
        rest.delete(id);
        qualities.value = rest;
      }
    },
    patchParticipant,
    /** A remote participant's latest stats. */
    setQuality(id: string, quality: PeerQuality) {
      if (!participants.value.has(id)) return;
      qualities.value = new Map(qualities.value).set(id, quality);
    },
    /** Appends a chat line, keeping the last {@linkcode MAX_CHAT_MESSAGES}. */
    addChat(
      message: Omit<ChatMessage, "id">,
      options: { panelOpen?: boolean } = {},
    ) {
      const next = [...chat.value, { ...message, id: ++chatId }];
      chat.value = next.length > MAX_CHAT_MESSAGES
        ? next.slice(next.length - MAX_CHAT_MESSAGES)
        : next;
      if (message.from !== null && options.panelOpen === false) unread.value++;
      if (message.from !== null) announce(`Message from ${message.name}: ${message.text}`);
    },
    /** Clears the unread count. */
    markChatRead() {
      unread.value = 0;
    },
    /** Opens or closes the chat; either way what was there has been seen. */
    toggleChat() {
      chatOpen.value = !chatOpen.value;
      unread.value = 0;
    },
    /** Opens `panel`, or closes it if it is the one showing (one popover at a time). */
    togglePanel(panel: Panel) {
      openPanel.value = openPanel.value === panel ? null : panel;
    },
    /** Opens the security code dialog for `peerId`. */
    openSecurityCode(peerId: string) {
      if (participants.value.has(peerId)) securityDialog.value = peerId;
    },
    /** Closes the security code dialog. */
    closeSecurityCode() {
      securityDialog.value = null;
    },
    /** Whether our certificate is kept in this browser (see `certificatePersistent`). */
    setCertificatePersistent(persistent: boolean) {
      certificatePersistent.value = persistent;
    },
    /** Closes whichever popover is showing. */
    closePanel() {
      openPanel.value = null;
    },
  };
});

/** An instance of {@linkcode CallModel}. */
export type CallStore = InstanceType<typeof CallModel>;
