/**
 * Wire protocol v1: the frame types both ends exchange and hand-written
 * parsers that rebuild every value from checked fields.
 *
 * Shared by the server (`lib/hub.ts`) and the browser (`client/signaling_socket.ts`),
 * so it touches neither `Deno.*` nor the DOM. See `docs/protocol.md`.
 *
 * @module
 */

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
] as const;

/** One of {@linkcode ERROR_CODES}. */
export type ErrorCode = typeof ERROR_CODES[number];

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

/** Frames a client sends. */
export type ClientMessage =
  | { event: "join"; data: { channel: string; userdata: UserData } }
  | { event: "part"; data: { channel: string } }
  | { event: "resume"; data: { token: string; channels: ResumeChannel[] } }
  | {
    event: "relayICECandidate";
    data: { peer_id: string; ice_candidate: IceCandidate };
  }
  | {
    event: "relaySessionDescription";
    data: { peer_id: string; session_description: SessionDescription };
  };

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
    /** `restored`: this server did not know the peer (it restarted) and rebuilt it. */
    data: { peer_id: string; channels: string[]; restored: boolean };
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
  | { event: "joined"; data: { channel: string; peers: string[] } }
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
]);

/** Most channels one `resume` may rejoin. */
export const MAX_RESUME_CHANNELS = 16;

/** A channel to rejoin on resume, with the userdata it was joined with. */
export interface ResumeChannel {
  channel: string;
  userdata: UserData;
}

const ENCODER = new TextEncoder();

/** Returns the UTF-8 length of `text` in bytes. */
export function utf8Length(text: string): number {
  // Cheap exact answer for the common all-ASCII frame; encode only otherwise.
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : ENCODER.encode(text).length;
}

/** Returns whether `name` is a valid channel (room) name. */
export function isValidChannel(name: unknown): name is string {
  return typeof name === "string" && CHANNEL_PATTERN.test(name) &&
    name !== "." && name !== "..";
}

function isObject(value: unknown): value is Record<string, unknown> {
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

function parsePeerId(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 && value.length <= 64 ? value : undefined;
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
        if (!isObject(userdata) || utf8Length(JSON.stringify(userdata)) > MAX_USERDATA_BYTES) {
          return bad(`userdata must be a JSON object of at most ${MAX_USERDATA_BYTES} bytes`);
        }
        channels.push({ channel: item.channel, userdata });
      }
      return { ok: true, value: { event: "resume", data: { token: data.token, channels } } };
    }
    case "join": {
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
      return {
        ok: true,
        value: { event: "join", data: { channel: data.channel, userdata } },
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
      return {
        ok: true,
        value: { event, data: { peer_id: peerId, channels, restored: data.restored === true } },
      };
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
      return {
        ok: true,
        value: { event, data: { channel: data.channel, peers } },
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

/** Serializes a frame for the wire. */
export function encode(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}
