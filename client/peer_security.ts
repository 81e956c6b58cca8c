/**
 * The security code of one peer connection, wired: when the connection is
 * (re)connected the side that offered runs the commit-then-reveal exchange
 * (`sas_exchange.ts`) over the data channel, the other side answers every
 * new commitment with a fresh round, and the code comes from the
 * fingerprints both descriptions carry at that moment (`security_code.ts`,
 * pinned per pair of certificates by `pinned_codes.ts`). A round that has
 * no result within the time allowed fails: the person sees "Could not
 * verify this connection", never a stale or half-made code. The
 * descriptions, the channel and the timers are injected, so the wiring
 * runs under `deno test` with fakes. Part of a `Mesh` entry.
 *
 * @module
 */

import { toHex } from "./_bytes.ts";
import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { codeAfterExchange, type PinnedCodes } from "./pinned_codes.ts";
import {
  isSasMessage,
  parseSasMessage,
  SAS_FAILURE,
  SasExchange,
  type SasResult,
} from "./sas_exchange.ts";

/** How long one exchange may take before it counts as failed, in ms. */
export const SAS_TIMEOUT_MS = 15_000;

/** Where one connection's code stands. */
export type CodeState =
  | { state: "pending" }
  | { state: "code"; code: string; details: CodeDetails }
  | { state: "failed"; reason: typeof SAS_FAILURE };

/** What a code was derived from, to check it by hand (docs/security.md). */
export interface CodeDetails {
  /** Our fingerprints, normalised (`sha-256 AB:…`). */
  local: string[];
  /** Theirs. */
  remote: string[];
  /** Our value of the exchange that made the code, 64 hex digits. */
  localValue: string;
  /** Theirs. */
  remoteValue: string;
}

/** Both descriptions' fingerprints (`fingerprintsOf`), `null` where there is none (yet). */
export interface Fingerprints {
  local: string[] | null;
  remote: string[] | null;
}

/** Collaborators and callbacks of a {@linkcode PeerSecurity}; callbacks never throw. */
export interface PeerSecurityOptions {
  /** This side offered the connection (`should_create_offer`): it starts every round. */
  initiator: boolean;
  /** Sends a data channel message (queued there until the channel opens). */
  send(data: string): void;
  /** The fingerprints of the connection's current local and remote descriptions. */
  fingerprints(): Fingerprints;
  /** Codes pinned per pair of certificates. */
  pins: PinnedCodes;
  /** Each change of the code's state. */
  onChange(state: CodeState): void;
  /** How long a round may take, in ms. Default {@linkcode SAS_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Default: the runtime's. */
  timers?: Timers;
  /** 32 random bytes per round. Default `crypto.getRandomValues`. */
  random?(): Uint8Array;
}

/** One connection's security code. */
export class PeerSecurity {
  #options: PeerSecurityOptions;
  #exchange: SasExchange | null = null;
  #state: CodeState = { state: "pending" };
  /** The fingerprints the round in progress derives its code from. */
  #round: { local: string[]; remote: string[] } | null = null;
  #timer: unknown = null;
  #closed = false;

  constructor(options: PeerSecurityOptions) {
    this.#options = options;
  }

  /** Where the code stands now. */
  get state(): CodeState {
    return this.#state;
  }

  /**
   * The connection is (again) connected — a new connection, or back after
   * an ICE restart, possibly with new certificates: the initiator starts a
   * round. The other side waits for its commitment, and fails if none
   * comes while it has no code yet (an older client never sends one).
   */
  connected(): void {
    if (this.#closed) return;
    if (this.#options.initiator) return this.#start();
    if (this.#state.state !== "code") this.#arm();
  }

  /**
   * A data channel message: true if it belonged to the exchange (the
   * caller drops it), false if it is some other message.
   */
  receive(data: string): boolean {
    if (!isSasMessage(data)) return false;
    if (this.#closed) return true;
    // Every commitment opens a new round on this side: the initiator decides when.
    if (!this.#options.initiator && parseSasMessage(data)?.type === "sas-commit") this.#start();
    this.#exchange?.receive(data);
    return true;
  }

  /** The connection is gone: no more rounds, no more changes. */
  close(): void {
    this.#closed = true;
    this.#disarm();
  }

  #start() {
    const { local, remote } = this.#options.fingerprints();
    if (local === null || remote === null) {
      this.#round = null;
      return this.#set({ state: "failed", reason: SAS_FAILURE });
    }
    this.#round = { local, remote };
    const pinned = this.#options.pins.get(local, remote)?.code ?? null;
    this.#set({ state: "pending" });
    this.#arm();
    if (this.#exchange === null) {
      this.#exchange = new SasExchange({
        initiator: this.#options.initiator,
        send: (data) => this.#options.send(data),
        random: this.#options.random,
        pinned,
        done: (result) => void this.#finish(result),
      });
    } else {
      this.#exchange.restart({ pinned });
    }
  }

  async #finish(result: SasResult) {
    const round = this.#round;
    if (this.#closed || round === null) return;
    this.#disarm();
    const pin = await codeAfterExchange(result, { ...round, pins: this.#options.pins })
      .catch(() => null);
    // A newer round began while the code was being derived: its result will follow.
    if (this.#closed || this.#round !== round) return;
    this.#set(
      pin === null ? { state: "failed", reason: SAS_FAILURE } : {
        state: "code",
        code: pin.code,
        details: {
          ...round,
          localValue: toHex(pin.localValue),
          remoteValue: toHex(pin.remoteValue),
        },
      },
    );
  }

  #arm() {
    this.#disarm();
    const timers = this.#options.timers ?? GLOBAL_TIMERS;
    this.#timer = timers.setTimeout(() => {
      this.#timer = null;
      if (this.#closed || this.#state.state !== "pending") return;
      this.#round = null; // a late result must not show up after the failure
      this.#set({ state: "failed", reason: SAS_FAILURE });
    }, this.#options.timeoutMs ?? SAS_TIMEOUT_MS);
    if (this.#state.state !== "pending") this.#set({ state: "pending" });
  }

  #disarm() {
    if (this.#timer === null) return;
    (this.#options.timers ?? GLOBAL_TIMERS).clearTimeout(this.#timer);
    this.#timer = null;
  }

  #set(state: CodeState) {
    const same = state.state === this.#state.state &&
      (state.state !== "code" || this.#state.state === "code" && state.code === this.#state.code);
    this.#state = state;
    if (same) return;
    try {
      this.#options.onChange(state);
    } catch (error) {
      console.error(error);
    }
  }
}
