/**
 * TURN credentials that expire (the TURN REST API,
 * draft-uberti-behave-turn-rest-00; coturn's `use-auth-secret`): the
 * username is `<unix expiry>:<random opaque id>` and the credential is
 * `base64(HMAC-SHA1(secret, username))`, which coturn recomputes from its
 * `static-auth-secret`. A leaked credential works only until its expiry.
 * The hub mints one only for a member with someone to relay to (another
 * member of its room), within its address's budget.
 *
 * @module
 */

import { toBase64 } from "./_bytes.ts";
import { hmacSha1 } from "./_hmac.ts";
import type { IceServer } from "./protocol.ts";

const encoder = new TextEncoder();

/** What a session passes to `RTCPeerConnection`: servers and transport policy. */
export type IceTransportPolicy = "all" | "relay";

/** The TURN settings (`TURN_SECRET`, `TURN_URLS`, `TURN_TTL`). */
export interface TurnSettings {
  secret: string;
  urls: string[];
  ttlSeconds: number;
}

/** One session's ICE configuration and when its TURN credential expires (ms since epoch). */
export interface IssuedIce {
  iceServers: IceServer[];
  /** `Infinity` when nothing in it expires (no TURN secret configured). */
  expiresAt: number;
}

/** Mints `{username, credential}` for a TURN REST API server, valid until `expiresAtS`. */
export function turnCredential(
  secret: string,
  { expiresAtS, id }: { expiresAtS: number; id: string },
): { username: string; credential: string } {
  const username = `${expiresAtS}:${id}`;
  const credential = toBase64(hmacSha1(encoder.encode(secret), encoder.encode(username)));
  return { username, credential };
}

/** Whether an ICE server entry carries credentials (TURN with a password). */
export function hasCredentials(server: IceServer): boolean {
  return server.username !== undefined || server.credential !== undefined;
}

/**
 * Issues each session its ICE servers: the configured ones (`ICE_SERVERS`)
 * plus, with TURN settings, a TURN entry with a fresh credential.
 */
export class IceIssuer {
  readonly #servers: IceServer[];
  readonly #turn: TurnSettings | undefined;
  readonly #now: () => number;

  constructor(
    servers: IceServer[],
    { turn, now = Date.now }: { turn?: TurnSettings; now?: () => number } = {},
  ) {
    this.#servers = servers;
    this.#turn = turn;
    this.#now = now;
  }

  /** The servers anyone may see before joining: no credentials among them. */
  get public(): IceServer[] {
    return this.#servers.filter((s) => !hasCredentials(s));
  }

  /** The configured servers (`ICE_SERVERS`), as members get them without a minted credential. */
  get servers(): IceServer[] {
    return this.#servers;
  }

  /** Whether credentials are minted (TURN settings are configured). */
  get minting(): boolean {
    return this.#turn !== undefined;
  }

  /** Lifetime of a minted credential, ms (`Infinity` without TURN). */
  get ttlMs(): number {
    return this.#turn === undefined ? Infinity : this.#turn.ttlSeconds * 1000;
  }

  /** A session's full list, with a credential minted now. */
  issue(): IssuedIce {
    const turn = this.#turn;
    if (turn === undefined) return { iceServers: this.#servers, expiresAt: Infinity };
    const expiresAtS = Math.floor(this.#now() / 1000) + turn.ttlSeconds;
    const id = crypto.randomUUID().replaceAll("-", "");
    const { username, credential } = turnCredential(turn.secret, { expiresAtS, id });
    return {
      iceServers: [...this.#servers, { urls: turn.urls, username, credential }],
      expiresAt: expiresAtS * 1000,
    };
  }
}
