/**
 * Wire protocol v1, one family: the frame types both ends exchange, the
 * limits and codes they carry, and the hand-written parsers that rebuild
 * every value from checked fields — nothing else. Writing frames lives in
 * `encode.ts` and cleaning and measuring text in `text.ts`; both are
 * re-exported here, so either end imports the protocol from this one path.
 *
 * Shared by the server (`lib/dispatch.ts` parses every client frame) and the
 * browser (`client/signaling_socket.ts`), so it touches neither `Deno.*` nor
 * the DOM. See `docs/protocol.md`.
 *
 * @module
 */

import { cleanName, utf8Length } from "./text.ts";

export { encode, encodeAddPeer } from "./encode.ts";
export { cleanName, MAX_NAME_LENGTH, stripUnprintable, utf8Length } from "./text.ts";

/** The protocol version announced in `welcome`. */
export const PROTOCOL_VERSION = 1;

/** Channel names: 1–64 characters of `[A-Za-z0-9_.-]`, not `.` or `..`. */
export const CHANNEL_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Largest serialized `userdata` accepted in `join`, in bytes. */
export const MAX_USERDATA_BYTES = 1024;

/** Every error code the server may send in an `error` frame. */
export const ERROR_CODES = [
  "bad_message",
  "unknown_event",
  "bad_request",
  "already_joined",
  "not_joined",
  "unknown_peer",
  "channel_full",
  "too_many_channels",
  "message_too_large",
  "rate_limited",
  "bad_token",
  "not_allowed",
  "room_locked",
  "password_required",
  "wrong_password",
  "unavailable",
] as const;

/** One of {@linkcode ERROR_CODES}. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Room passwords: 1–128 characters. */
export const MAX_PASSWORD_LENGTH = 128;

/** A browser id (kept in localStorage): 1–64 characters of `[A-Za-z0-9_-]`. */
export const BROWSER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** What hosts are warned of in `roomAlert`. */
export const ROOM_ALERTS = ["wrong_passwords"] as const;

/** One of {@linkcode ROOM_ALERTS}: `wrong_passwords`, many wrong passwords were tried. */
export type RoomAlert = typeof ROOM_ALERTS[number];

/** A JSON object as userdata carries it: opaque to the server. */
export type UserData = Record<string, unknown>;

/** An ICE candidate as `RTCIceCandidate.toJSON()` produces it. */
export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

/** The SDP types an `RTCSessionDescriptionInit` may carry. */
export const SDP_TYPES = ["offer", "answer", "pranswer", "rollback"] as const;

/** A session description as `RTCSessionDescription.toJSON()` produces it. */
export interface SessionDescription {
  type: typeof SDP_TYPES[number];
  sdp: string;
}

/** An ICE server as `RTCPeerConnection` accepts it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** A `join`: `password` for a room that has one, `browser` to be recognised after a removal. */
export interface JoinRequest {
  channel: string;
  userdata: UserData;
  password?: string;
  browser?: string;
}

/** A `knock` on a locked room's door; the userdata is the one the admitted join uses. */
export interface KnockRequest {
  channel: string;
  userdata: UserData;
  browser?: string;
}

/** The host actions aimed at one member (or, for admit and deny, one knocker). */
export const HOST_TARGET_EVENTS = ["makeHost", "remove", "mute", "admit", "deny"] as const;

/** One of {@linkcode HOST_TARGET_EVENTS}. */
export type HostTargetEvent = typeof HOST_TARGET_EVENTS[number];

/**
 * What stands at a room's door for a newcomer's `join`, as `door` answers
 * it: nothing (an unused room too), a lock (knock), or a password. A
 * locked room with a password is `locked`: admission is all it needs.
 */
export const DOORS = ["open", "locked", "password"] as const;

/** One of {@linkcode DOORS}. */
export type Door = typeof DOORS[number];

/** A `door` question: `browser` as in `join` (a browser removed from the room finds it locked). */
export interface DoorRequest {
  channel: string;
  browser?: string;
}

/** A room's authority as every member sees it in `roomState`. */
export interface RoomState {
  channel: string;
  hosts: string[];
  locked: boolean;
  password: boolean;
}

/** One pending knock as hosts see it. */
export interface KnockEntry {
  peer_id: string;
  name: string;
}

/** Frames a client sends. */
export type ClientMessage =
  | { event: "join"; data: JoinRequest }
  | { event: "knock"; data: KnockRequest }
  | { event: "door"; data: DoorRequest }
  | { event: "lock"; data: { channel: string; locked: boolean } }
  | { event: "setPassword"; data: { channel: string; password: string | null } }
  | { event: HostTargetEvent; data: { channel: string; peer_id: string } }
  | { event: "part"; data: { channel: string } }
  | { event: "resume"; data: { token: string; channels: ResumeChannel[]; browser?: string } }
  | {
    event: "relayICECandidate";
    data: { peer_id: string; ice_candidate: IceCandidate };
  }
  | {
    event: "relaySessionDescription";
    data: { peer_id: string; session_description: SessionDescription };
  };

/** `joined`: the room is ours; from this server it also carries our ICE configuration. */
export interface JoinedData {
  channel: string;
  peers: string[];
  /** The full list for our peer connections, TURN credentials included. */
  ice_servers?: IceServer[];
  /** `relay` when the server wants browsers to use only TURN. */
  ice_transport_policy?: "all" | "relay";
  /** The room's hosts, lock and password, as a `roomState` would say (none is sent with it). */
  room_state?: RoomState;
}

/** Frames the server sends. */
export type ServerMessage =
  | {
    event: "welcome";
    data: {
      peer_id: string;
      protocol: number;
      ice_servers: IceServer[];
      /** Resume support: absent from servers that do not offer it. */
      resume_token?: string;
      /** Seconds the server holds an abnormally closed peer. */
      resume_window?: number;
    };
  }
  | { event: "session"; data: { resume_token: string } }
  | {
    event: "resumed";
    /**
     * `restored`: this server did not know the peer (it restarted) and
     * rebuilt it. `peers`: everyone in its rooms now (absent from older servers).
     */
    data: { peer_id: string; channels: string[]; restored: boolean; peers?: string[] };
  }
  | { event: "peerAway"; data: { peer_id: string } }
  | { event: "peerBack"; data: { peer_id: string } }
  | {
    event: "addPeer";
    data: {
      peer_id: string;
      should_create_offer: boolean;
      polite: boolean;
      userdata: UserData;
    };
  }
  | { event: "joined"; data: JoinedData }
  | {
    event: "iceServers";
    data: { ice_servers: IceServer[]; ice_transport_policy: "all" | "relay" };
  }
  | { event: "parted"; data: { channel: string } }
  | { event: "removePeer"; data: { peer_id: string } }
  | {
    event: "iceCandidate";
    data: { peer_id: string; ice_candidate: IceCandidate };
  }
  | {
    event: "sessionDescription";
    data: { peer_id: string; session_description: SessionDescription };
  }
  | { event: "roomState"; data: RoomState }
  | { event: "knocking"; data: { channel: string } }
  | { event: "door"; data: { channel: string; door: Door } }
  | { event: "knocks"; data: { channel: string; knocks: KnockEntry[] } }
  | { event: "denied"; data: { channel: string } }
  | { event: "removed"; data: { channel: string } }
  | { event: "muted"; data: { channel: string; by: string } }
  | { event: "roomAlert"; data: { channel: string; alert: RoomAlert } }
  | {
    event: "error";
    data: { code: ErrorCode; message: string; event?: string };
  };

/** The event names a client may send. */
export type ClientEvent = ClientMessage["event"];

/** A parse that failed: the code and message for an `error` frame. */
export interface ParseFailure {
  ok: false;
  code: ErrorCode;
  message: string;
  /** The offending frame's event name, when it had a readable one. */
  event?: string;
}

/** The outcome of parsing one frame. */
export type ParseResult<T> = { ok: true; value: T } | ParseFailure;

const CLIENT_EVENTS: ReadonlySet<string> = new Set<ClientEvent>([
  "join",
  "part",
  "relayICECandidate",
  "relaySessionDescription",
  "resume",
  "knock",
  "door",
  "lock",
  "setPassword",
  ...HOST_TARGET_EVENTS,
]);

/** Most channels one `resume` may rejoin. */
export const MAX_RESUME_CHANNELS = 16;

/** A channel to rejoin on resume, with the userdata it was joined with. */
export interface ResumeChannel {
  channel: string;
  userdata: UserData;
}

/** Rebuilds a `roomState` (or `joined.room_state`); undefined if it is not one. */
function parseRoomState(data: unknown): RoomState | undefined {
  if (!isObject(data) || !isValidChannel(data.channel) || !Array.isArray(data.hosts)) return;
  return {
    channel: data.channel,
    hosts: data.hosts.map(parsePeerId).filter((p) => p !== undefined),
    locked: data.locked === true,
    password: data.password === true,
  };
}

/** Returns whether `name` is a valid channel (room) name. */
export function isValidChannel(name: unknown): name is string {
  return typeof name === "string" && CHANNEL_PATTERN.test(name) &&
    name !== "." && name !== "..";
}

/** Whether `value` is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(code: ErrorCode, message: string, event?: string): ParseFailure {
  return event === undefined ? { ok: false, code, message } : { ok: false, code, message, event };
}

function optionalNullable<T>(
  value: unknown,
  check: (v: unknown) => v is T,
): value is T | null | undefined {
  return value === undefined || value === null || check(value);
}

const isIndex = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 65535;

/**
 * Longest accepted candidate line. Real ones are under 300 characters
 * (an mDNS host or a TURN relay included); the cap keeps a hostile peer
 * from pushing megabytes into the other side's held candidates.
 */
export const MAX_CANDIDATE_LENGTH = 1024;

/** Longest `sdpMid` or `usernameFragment`. */
const MAX_CANDIDATE_FIELD_LENGTH = 256;

const isShortString = (v: unknown): v is string =>
  typeof v === "string" && v.length <= MAX_CANDIDATE_FIELD_LENGTH;

/** Checks an ICE candidate and rebuilds it from its known fields. */
export function parseIceCandidate(value: unknown): IceCandidate | undefined {
  if (!isObject(value) || typeof value.candidate !== "string") return;
  const { candidate, sdpMid, sdpMLineIndex, usernameFragment } = value;
  if (
    candidate.length > MAX_CANDIDATE_LENGTH ||
    !optionalNullable(sdpMid, isShortString) ||
    !optionalNullable(sdpMLineIndex, isIndex) ||
    !optionalNullable(usernameFragment, isShortString)
  ) return;
  const out: IceCandidate = { candidate };
  if (sdpMid !== undefined) out.sdpMid = sdpMid;
  if (sdpMLineIndex !== undefined) out.sdpMLineIndex = sdpMLineIndex;
  if (usernameFragment !== undefined) out.usernameFragment = usernameFragment;
  return out;
}

/** Checks a session description and rebuilds it from its known fields. */
export function parseSessionDescription(
  value: unknown,
): SessionDescription | undefined {
  if (!isObject(value) || typeof value.sdp !== "string") return;
  const type = SDP_TYPES.find((t) => t === value.type);
  if (type === undefined) return;
  return { type, sdp: value.sdp };
}

/** Checks an ICE server entry and rebuilds it from its known fields. */
export function parseIceServer(value: unknown): IceServer | undefined {
  if (!isObject(value)) return;
  const { urls, username, credential } = value;
  const list = typeof urls === "string" ? [urls] : urls;
  if (
    !Array.isArray(list) || list.length === 0 ||
    !list.every((u) => typeof u === "string" && /^(stuns?|turns?):/.test(u))
  ) return;
  if (username !== undefined && typeof username !== "string") return;
  if (credential !== undefined && typeof credential !== "string") return;
  const out: IceServer = { urls: typeof urls === "string" ? urls : [...list] };
  if (username !== undefined) out.username = username;
  if (credential !== undefined) out.credential = credential;
  return out;
}

const PASSWORD_RULE = `password must be a string of 1-${MAX_PASSWORD_LENGTH} characters`;
const BROWSER_RULE = "browser must be 1-64 characters of A-Z a-z 0-9 _ -";

function isPassword(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_PASSWORD_LENGTH;
}

function isBrowserId(value: unknown): value is string {
  return typeof value === "string" && BROWSER_PATTERN.test(value);
}

/** Whether `value` is a non-empty string of at most 64 characters: a peer, browser or instance id. */
export function isShortId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 64;
}

/** Whether `value` is userdata as a join may carry it: an object of at most {@linkcode MAX_USERDATA_BYTES}. */
export function isUserData(value: unknown): value is UserData {
  return isObject(value) && utf8Length(JSON.stringify(value)) <= MAX_USERDATA_BYTES;
}

function parsePeerId(value: unknown): string | undefined {
  return isShortId(value) ? value : undefined;
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Parses one text frame from a client. Never throws: a refused frame comes
 * back as a {@linkcode ParseFailure} naming the error code to send.
 */
export function parseClientMessage(text: string): ParseResult<ClientMessage> {
  const frame = parseJSON(text);
  if (!isObject(frame) || typeof frame.event !== "string") {
    return fail(
      "bad_message",
      'Cannot parse frame: expected a JSON object {"event": string, "data": object}',
    );
  }
  const { event, data } = frame;
  if (!CLIENT_EVENTS.has(event)) {
    return fail(
      "unknown_event",
      `Cannot handle event "${event.slice(0, 64)}": unknown event`,
    );
  }
  const bad = (what: string) => fail("bad_request", `Cannot handle "${event}": ${what}`, event);
  switch (event as ClientEvent) {
    case "resume": {
      if (!isObject(data)) return bad("data must be an object");
      if (typeof data.token !== "string" || data.token.length > 512) {
        return bad("token must be a string");
      }
      const list = data.channels ?? [];
      if (!Array.isArray(list) || list.length > MAX_RESUME_CHANNELS) {
        return bad(`channels must be an array of at most ${MAX_RESUME_CHANNELS}`);
      }
      const channels: ResumeChannel[] = [];
      for (const item of list) {
        if (!isObject(item) || !isValidChannel(item.channel)) {
          return bad("each channel must be {channel, userdata?} with a valid name");
        }
        const userdata = item.userdata ?? {};
        if (!isUserData(userdata)) {
          return bad(`userdata must be a JSON object of at most ${MAX_USERDATA_BYTES} bytes`);
        }
        channels.push({ channel: item.channel, userdata });
      }
      if (data.browser !== undefined && !isBrowserId(data.browser)) return bad(BROWSER_RULE);
      const resume: Extract<ClientMessage, { event: "resume" }>["data"] = {
        token: data.token,
        channels,
      };
      if (data.browser !== undefined) resume.browser = data.browser;
      return { ok: true, value: { event: "resume", data: resume } };
    }
    case "join":
    case "knock": {
      if (!isObject(data)) return bad("data must be an object");
      if (!isValidChannel(data.channel)) {
        return bad(
          "channel must be 1-64 characters of A-Z a-z 0-9 _ . - (not . or ..)",
        );
      }
      const userdata = data.userdata ?? {};
      if (!isObject(userdata)) return bad("userdata must be a JSON object");
      if (utf8Length(JSON.stringify(userdata)) > MAX_USERDATA_BYTES) {
        return bad(`userdata must be at most ${MAX_USERDATA_BYTES} bytes`);
      }
      if (data.browser !== undefined && !isBrowserId(data.browser)) return bad(BROWSER_RULE);
      if (event === "knock") {
        const knock: KnockRequest = { channel: data.channel, userdata };
        if (data.browser !== undefined) knock.browser = data.browser;
        return { ok: true, value: { event: "knock", data: knock } };
      }
      if (data.password !== undefined && !isPassword(data.password)) return bad(PASSWORD_RULE);
      const join: JoinRequest = { channel: data.channel, userdata };
      if (data.password !== undefined) join.password = data.password;
      if (data.browser !== undefined) join.browser = data.browser;
      return { ok: true, value: { event: "join", data: join } };
    }
    case "door": {
      if (!isObject(data) || !isValidChannel(data.channel)) return bad("channel is not valid");
      if (data.browser !== undefined && !isBrowserId(data.browser)) return bad(BROWSER_RULE);
      const door: DoorRequest = { channel: data.channel };
      if (data.browser !== undefined) door.browser = data.browser;
      return { ok: true, value: { event: "door", data: door } };
    }
    case "lock": {
      if (!isObject(data) || !isValidChannel(data.channel) || typeof data.locked !== "boolean") {
        return bad("data must be {channel, locked: boolean}");
      }
      return {
        ok: true,
        value: { event: "lock", data: { channel: data.channel, locked: data.locked } },
      };
    }
    case "setPassword": {
      if (!isObject(data) || !isValidChannel(data.channel)) return bad("channel is not valid");
      if (data.password !== null && !isPassword(data.password)) {
        return bad(`password must be null or ${PASSWORD_RULE.slice("password must be ".length)}`);
      }
      return {
        ok: true,
        value: { event: "setPassword", data: { channel: data.channel, password: data.password } },
      };
    }
    case "makeHost":
    case "remove":
    case "mute":
    case "admit":
    case "deny": {
      if (!isObject(data) || !isValidChannel(data.channel)) return bad("channel is not valid");
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined) return bad("peer_id must be a peer id string");
      const target = event as HostTargetEvent;
      return {
        ok: true,
        value: { event: target, data: { channel: data.channel, peer_id: peerId } },
      };
    }
    case "part": {
      // The seed sends the bare channel string; v1 clients send {channel}.
      const channel = isObject(data) ? data.channel : data;
      if (!isValidChannel(channel)) return bad("channel is not a valid name");
      return { ok: true, value: { event: "part", data: { channel } } };
    }
    case "relayICECandidate": {
      if (!isObject(data)) return bad("data must be an object");
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined) return bad("peer_id must be a peer id string");
      const candidate = parseIceCandidate(data.ice_candidate);
      if (candidate === undefined) {
        return bad(
          "ice_candidate must be {candidate: string, sdpMid?, sdpMLineIndex?, usernameFragment?}",
        );
      }
      return {
        ok: true,
        value: {
          event: "relayICECandidate",
          data: { peer_id: peerId, ice_candidate: candidate },
        },
      };
    }
    case "relaySessionDescription": {
      if (!isObject(data)) return bad("data must be an object");
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined) return bad("peer_id must be a peer id string");
      const description = parseSessionDescription(data.session_description);
      if (description === undefined) {
        return bad(
          'session_description must be {type: "offer"|"answer"|"pranswer"|"rollback", sdp: string}',
        );
      }
      return {
        ok: true,
        value: {
          event: "relaySessionDescription",
          data: { peer_id: peerId, session_description: description },
        },
      };
    }
  }
}

/**
 * Parses one text frame from the server (the client's side of the wire).
 * Unknown events are refused so a newer server cannot confuse an old client.
 */
export function parseServerMessage(text: string): ParseResult<ServerMessage> {
  const frame = parseJSON(text);
  if (!isObject(frame) || typeof frame.event !== "string") {
    return fail("bad_message", "Cannot parse server frame: not an envelope");
  }
  const { event, data } = frame;
  const bad = () => fail("bad_request", `Cannot parse server "${event}": bad data`, event);
  if (!isObject(data)) return bad();
  switch (event) {
    case "welcome": {
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined || typeof data.protocol !== "number") {
        return bad();
      }
      const list = Array.isArray(data.ice_servers) ? data.ice_servers : [];
      const iceServers = list.map(parseIceServer).filter((s) => s !== undefined);
      const welcome: Extract<ServerMessage, { event: "welcome" }>["data"] = {
        peer_id: peerId,
        protocol: data.protocol,
        ice_servers: iceServers,
      };
      if (typeof data.resume_token === "string") welcome.resume_token = data.resume_token;
      if (typeof data.resume_window === "number") welcome.resume_window = data.resume_window;
      return { ok: true, value: { event, data: welcome } };
    }
    case "session":
      if (typeof data.resume_token !== "string") return bad();
      return { ok: true, value: { event, data: { resume_token: data.resume_token } } };
    case "resumed": {
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined || !Array.isArray(data.channels)) return bad();
      const channels = data.channels.filter(isValidChannel);
      const resumed: Extract<ServerMessage, { event: "resumed" }>["data"] = {
        peer_id: peerId,
        channels,
        restored: data.restored === true,
      };
      if (Array.isArray(data.peers)) {
        resumed.peers = data.peers.map(parsePeerId).filter((p) => p !== undefined);
      }
      return { ok: true, value: { event, data: resumed } };
    }
    case "peerAway":
    case "peerBack": {
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined) return bad();
      return { ok: true, value: { event, data: { peer_id: peerId } } };
    }
    case "addPeer": {
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined) return bad();
      const shouldOffer = data.should_create_offer === true;
      return {
        ok: true,
        value: {
          event,
          data: {
            peer_id: peerId,
            should_create_offer: shouldOffer,
            // A seed server sends no polite flag: the answerer is polite.
            polite: typeof data.polite === "boolean" ? data.polite : !shouldOffer,
            userdata: isObject(data.userdata) ? data.userdata : {},
          },
        },
      };
    }
    case "joined": {
      if (!isValidChannel(data.channel) || !Array.isArray(data.peers)) {
        return bad();
      }
      const peers = data.peers.map(parsePeerId).filter((p) => p !== undefined);
      const joined: JoinedData = { channel: data.channel, peers };
      if (Array.isArray(data.ice_servers)) {
        joined.ice_servers = data.ice_servers.map(parseIceServer).filter((s) => s !== undefined);
      }
      if (data.ice_transport_policy === "all" || data.ice_transport_policy === "relay") {
        joined.ice_transport_policy = data.ice_transport_policy;
      }
      const state = parseRoomState(data.room_state);
      if (state !== undefined && state.channel === data.channel) joined.room_state = state;
      return { ok: true, value: { event, data: joined } };
    }
    case "iceServers": {
      if (!Array.isArray(data.ice_servers)) return bad();
      const policy = data.ice_transport_policy === "relay" ? "relay" : "all";
      return {
        ok: true,
        value: {
          event,
          data: {
            ice_servers: data.ice_servers.map(parseIceServer).filter((s) => s !== undefined),
            ice_transport_policy: policy,
          },
        },
      };
    }
    case "parted":
      if (!isValidChannel(data.channel)) return bad();
      return { ok: true, value: { event, data: { channel: data.channel } } };
    case "removePeer": {
      const peerId = parsePeerId(data.peer_id);
      if (peerId === undefined) return bad();
      return { ok: true, value: { event, data: { peer_id: peerId } } };
    }
    case "iceCandidate": {
      const peerId = parsePeerId(data.peer_id);
      const candidate = parseIceCandidate(data.ice_candidate);
      if (peerId === undefined || candidate === undefined) return bad();
      return {
        ok: true,
        value: { event, data: { peer_id: peerId, ice_candidate: candidate } },
      };
    }
    case "sessionDescription": {
      const peerId = parsePeerId(data.peer_id);
      const description = parseSessionDescription(data.session_description);
      if (peerId === undefined || description === undefined) return bad();
      return {
        ok: true,
        value: {
          event,
          data: { peer_id: peerId, session_description: description },
        },
      };
    }
    case "roomState": {
      const state = parseRoomState(data);
      return state === undefined ? bad() : { ok: true, value: { event, data: state } };
    }
    case "knocks": {
      if (!isValidChannel(data.channel) || !Array.isArray(data.knocks)) return bad();
      const knocks: KnockEntry[] = [];
      for (const item of data.knocks) {
        if (!isObject(item)) continue;
        const peerId = parsePeerId(item.peer_id);
        if (peerId !== undefined) knocks.push({ peer_id: peerId, name: cleanName(item.name) });
      }
      return { ok: true, value: { event, data: { channel: data.channel, knocks } } };
    }
    case "knocking":
    case "denied":
    case "removed":
      if (!isValidChannel(data.channel)) return bad();
      return { ok: true, value: { event, data: { channel: data.channel } } };
    case "door": {
      const door = DOORS.find((d) => d === data.door);
      if (!isValidChannel(data.channel) || door === undefined) return bad();
      return { ok: true, value: { event, data: { channel: data.channel, door } } };
    }
    case "roomAlert": {
      const alert = ROOM_ALERTS.find((a) => a === data.alert);
      if (!isValidChannel(data.channel) || alert === undefined) return bad();
      return { ok: true, value: { event, data: { channel: data.channel, alert } } };
    }
    case "muted": {
      const by = parsePeerId(data.by);
      if (!isValidChannel(data.channel) || by === undefined) return bad();
      return { ok: true, value: { event, data: { channel: data.channel, by } } };
    }
    case "error": {
      const code = ERROR_CODES.find((c) => c === data.code);
      if (code === undefined || typeof data.message !== "string") return bad();
      const out: { code: ErrorCode; message: string; event?: string } = {
        code,
        message: data.message,
      };
      if (typeof data.event === "string") out.event = data.event;
      return { ok: true, value: { event, data: out } };
    }
    default:
      return fail("unknown_event", `Unknown server event "${event}"`, event);
  }
}
