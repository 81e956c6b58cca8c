/**
 * The chat data channel of one peer connection: the side told to offer
 * opens it, the other adopts it when it arrives. Messages sent before it
 * opens wait in a small outbox and go out on open. Part of a `Peer`.
 *
 * @module
 */

/** Label of the chat data channel. */
export const CHAT_CHANNEL = "chat";

/** Messages held for a data channel that is not open yet. */
const MAX_OUTBOX = 100;

/** What a {@linkcode PeerChannel} tells its peer; callbacks never throw. */
export interface PeerChannelOptions {
  /** The channel opened: a good time to say hello. */
  onOpen(): void;
  /** A text message arrived. */
  onMessage(data: string): void;
}

/** One connection's chat channel, with an outbox until it opens. */
export class PeerChannel {
  #options: PeerChannelOptions;
  #channel: RTCDataChannel | null = null;
  /** Messages sent before it opened. */
  #outbox: string[] = [];

  constructor(options: PeerChannelOptions) {
    this.#options = options;
  }

  /** Whether the channel can carry messages now. */
  get open(): boolean {
    return this.#channel?.readyState === "open";
  }

  /** Uses `channel` from now on (one we opened, or the other side's), closing any before it. */
  adopt(channel: RTCDataChannel): void {
    this.#channel?.close();
    this.#channel = channel;
    channel.onopen = () => {
      this.#options.onOpen();
      for (const data of this.#outbox.splice(0)) this.send(data);
    };
    channel.onmessage = ({ data }) => {
      if (typeof data === "string") this.#options.onMessage(data);
    };
  }

  /** Sends `data`, or holds it until the channel opens; false if it cannot. */
  send(data: string): boolean {
    if (!this.open) {
      // Not open yet (the other side is still connecting): deliver on open.
      if (this.#outbox.length >= MAX_OUTBOX) return false;
      this.#outbox.push(data);
      return true;
    }
    try {
      this.#channel!.send(data);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the channel. */
  close(): void {
    this.#channel?.close();
  }
}
