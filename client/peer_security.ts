/**
 * The security code of one peer connection, wired: when the connection is
 * (re)connected, or a renegotiation changed the fingerprints behind the
 * code, both sides drop the code and wait for a new one; the side that
 * offered runs the commit-then-reveal exchange (`sas_exchange.ts`) over the
 * data channel, and the other side answers at most {@linkcode MAX_ROUNDS}
 * commitments per connected period (a commitment in the middle of a round
 * fails that round: an initiator that abandons rounds gets no more tries).
 * The code comes from the fingerprints both descriptions carry when the
 * round starts (`security_code.ts`, pinned per pair of certificates by
 * `pinned_codes.ts`), and only if they still carry them when it ends. A
 * round that has no result within the time allowed fails on either side:
 * the person sees "Could not verify this connection", never a stale or
 * half-made code. The descriptions, the channel and the timers are
 * injected, so the wiring runs under `deno test` with fakes. Part of a
 * `Mesh` entry.
 *
 * @module
 */

import { toHex } from "./_bytes.ts";
import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { codeAfterExchange, type PinnedCode, type PinnedCodes } from "./pinned_codes.ts";
import {
  isSasMessage,
  parseSasMessage,
  SAS_FAILURE,
  SasExchange,
  type SasResult,
} from "./sas_exchange.ts";

/** How long one exchange may take before it counts as failed, in ms. */
export const SAS_TIMEOUT_MS = 15_000;

/**
 * Rounds the answering side takes part in per connected period: enough for
 * a renegotiation or two, too few to try codes until one matches.
 */
export const MAX_ROUNDS = 3;

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
  /** The fingerprints the round in progress (or the last one) derives its code from, and its pin. */
  #round: { local: string[]; remote: string[]; pinned: PinnedCode | null } | null = null;
  /** A round has started and not yet reported. */
  #inRound = false;
  /** Rounds the answering side may still take part in before the next connection-up. */
  #roundsLeft = MAX_ROUNDS;
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
   * an ICE restart, possibly with new certificates, possibly now ending at
   * someone else. The initiator starts a round. The other side gets a
   * fresh allowance of rounds; unless it holds a code made from the very
   * fingerprints in use now (DTLS checked the connection against them: it
   * still ends at the same two certificates), it drops what it had and
   * fails if no commitment comes in time (an older client, or a relay that
   * never commits, gets "Could not verify this connection", not the old
   * code).
   */
  connected(): void {
    if (this.#closed) return;
    if (this.#options.initiator) return this.#start();
    // A commitment can overtake this event (Firefox): that round is this
    // period's first, and its end checks the fingerprints again.
    this.#roundsLeft = MAX_ROUNDS - (this.#inRound ? 1 : 0);
    if (this.#inRound) return;
    const round = this.#round;
    if (this.#state.state === "code" && round !== null) {
      if (sameFingerprints(this.#options.fingerprints(), round)) return;
    }
    this.#abandon();
    this.#arm();
  }

  /**
   * A negotiation ended (signaling back to `stable`): if the fingerprints
   * in use are not the ones behind the code (or the round in progress),
   * the code no longer describes this connection, so it goes as on
   * reconnection. Before any round there is nothing to compare.
   */
  negotiated(): void {
    if (this.#closed || this.#round === null) return;
    if (sameFingerprints(this.#options.fingerprints(), this.#round)) return;
    if (this.#options.initiator) return this.#start();
    this.#abandon();
    this.#arm();
  }

  /**
   * A data channel message: true if it belonged to the exchange (the
   * caller drops it), false if it is some other message.
   */
  receive(data: string): boolean {
    if (!isSasMessage(data)) return false;
    if (this.#closed) return true;
    if (!this.#options.initiator && parseSasMessage(data)?.type === "sas-commit") {
      // A commitment in the middle of a round: the initiator walked away from
      // a round whose value it has seen. That round counts as failed.
      if (this.#inRound) this.#fail();
      if (this.#roundsLeft <= 0) {
        if (!this.#inRound) this.#fail();
        return true;
      }
      this.#roundsLeft--;
      this.#start();
    }
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
    if (local === null || remote === null) return this.#fail();
    // The pin announced now is the one the round may show again (`pinned_codes.ts`).
    const pin = this.#options.pins.get(local, remote) ?? null;
    const pinned = pin?.code ?? null;
    this.#round = { local, remote, pinned: pin };
    this.#inRound = true;
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
    if (this.#closed || round === null || !this.#inRound) return;
    this.#inRound = false;
    this.#disarm();
    // The descriptions changed under the round: its code would describe another connection.
    if (!sameFingerprints(this.#options.fingerprints(), round)) return this.#fail();
    const { local, remote, pinned } = round;
    const pin = await codeAfterExchange(result, { local, remote, pinned, pins: this.#options.pins })
      .catch(() => null);
    // A newer round began while the code was being derived: its result will follow.
    if (this.#closed || this.#round !== round || this.#inRound) return;
    if (!sameFingerprints(this.#options.fingerprints(), round)) return this.#fail();
    this.#set(
      pin === null ? { state: "failed", reason: SAS_FAILURE } : {
        state: "code",
        code: pin.code,
        details: {
          local,
          remote,
          localValue: toHex(pin.localValue),
          remoteValue: toHex(pin.remoteValue),
        },
      },
    );
  }

  /** The round in progress, if any, will report nothing; the code no longer stands. */
  #abandon() {
    this.#inRound = false;
    this.#round = null;
  }

  /** No code: "Could not verify this connection"; a late result of the round is dropped. */
  #fail() {
    this.#abandon();
    this.#disarm();
    this.#set({ state: "failed", reason: SAS_FAILURE });
  }

  #arm() {
    this.#disarm();
    const timers = this.#options.timers ?? GLOBAL_TIMERS;
    this.#timer = timers.setTimeout(() => {
      this.#timer = null;
      if (this.#closed || this.#state.state !== "pending") return;
      this.#fail(); // a late result must not show up after the failure
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

/** Whether the descriptions in use still carry `round`'s fingerprints (order aside). */
function sameFingerprints(
  now: Fingerprints,
  round: { local: readonly string[]; remote: readonly string[] },
): boolean {
  return now.local !== null && now.remote !== null && sameSet(now.local, round.local) &&
    sameSet(now.remote, round.remote);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sorted = [...b].sort();
  return a.length === b.length && [...a].sort().every((line, i) => line === sorted[i]);
}
