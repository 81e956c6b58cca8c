/**
 * ICE health of one peer connection: restarts ICE when the connection
 * fails (a few times, until it works again) or stays disconnected, and
 * remembers what ICE saw — candidate types on both sides, ICE server
 * errors — for `diagnose`. Part of a `Peer`.
 *
 * @module
 */

import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { type IceFacts, typeOfCandidate } from "./diagnosis.ts";
import type { CandidateType } from "./quality.ts";

/** ICE restarts tried on `failed` before waiting for a network change. */
export const MAX_AUTO_RESTARTS = 3;

/** ICE server errors kept for a diagnosis; the first ones say enough. */
const MAX_CANDIDATE_ERRORS = 20;

/** The part of an `RTCPeerConnection` an {@linkcode IceHealth} uses. */
export type IceConnection = Pick<RTCPeerConnection, "restartIce" | "connectionState">;

/** Options of an {@linkcode IceHealth}. */
export interface IceHealthOptions {
  /**
   * How long a `disconnected` connection may stay so before an ICE restart,
   * in ms. Default 4000. A `failed` one restarts at once.
   */
  disconnectedRestartMs?: number;
  /** Timers for that wait. Default {@linkcode GLOBAL_TIMERS}. */
  timers?: Timers;
}

/** Restarts and observations of one connection's ICE. */
export class IceHealth {
  #pc: IceConnection;
  #options: IceHealthOptions;
  #localTypes = new Set<CandidateType>();
  #remoteTypes = new Set<CandidateType>();
  #candidateErrors: IceFacts["candidateErrors"][number][] = [];
  #restartTimer: unknown;
  /** ICE restarts done since the connection last worked. */
  #restarts = 0;

  constructor(pc: IceConnection, options: IceHealthOptions = {}) {
    this.#pc = pc;
    this.#options = options;
  }

  /** We gathered `candidate` (its SDP line). */
  gathered(candidate: string): void {
    const type = typeOfCandidate(candidate);
    if (type !== null) this.#localTypes.add(type);
  }

  /** The other side sent `candidate` (its SDP line). */
  received(candidate: string): void {
    const type = typeOfCandidate(candidate);
    if (type !== null) this.#remoteTypes.add(type);
  }

  /** An ICE server answered with an error (`icecandidateerror`). */
  serverError({ url, errorCode, errorText }: IceFacts["candidateErrors"][number]): void {
    if (this.#candidateErrors.length < MAX_CANDIDATE_ERRORS) {
      this.#candidateErrors.push({ url, errorCode, errorText });
    }
  }

  /** What ICE saw so far. */
  facts(iceServers: readonly RTCIceServer[], failed: boolean): IceFacts {
    return {
      iceServers,
      localTypes: this.#localTypes,
      remoteTypes: this.#remoteTypes,
      candidateErrors: this.#candidateErrors,
      failed,
    };
  }

  /** Restarts ICE: new candidates, same connection. */
  restart(): void {
    this.#restarts++;
    this.#pc.restartIce();
  }

  /** The connection's state changed: restart now, later, or stop counting. */
  changed(state: RTCPeerConnectionState): void {
    this.stop();
    if (state === "connected") {
      this.#restarts = 0;
    } else if (state === "failed" && this.#restarts < MAX_AUTO_RESTARTS) {
      this.restart();
    } else if (state === "disconnected") {
      // Often a blip that heals by itself; restart only if it lasts.
      this.#restartTimer = (this.#options.timers ?? GLOBAL_TIMERS).setTimeout(() => {
        if (this.#pc.connectionState === "disconnected") this.restart();
      }, this.#options.disconnectedRestartMs ?? 4000);
    }
  }

  /** Cancels a restart waiting for a disconnection to heal. */
  stop(): void {
    if (this.#restartTimer === undefined) return;
    (this.#options.timers ?? GLOBAL_TIMERS).clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
  }
}
