/**
 * Who holds a TURN credential, and when one is minted (beside `turn.ts`,
 * which mints). A relay is for reaching someone: a member gets a
 * credential only once its room has another member, within its address's
 * budget (`ConnectionLimits.takeTurnCredential`), and keeps it until it
 * expires — a second visit, a resume or a rejoin costs nothing while it is
 * valid. Renewals before expiry are free for a member with company; a
 * member whose budget said no is asked for again a minute later.
 *
 * It decides; the hub delivers: `joined` carries what
 * {@linkcode RelayGrants.forJoined} returns, and `send` carries an
 * `iceServers` frame. No sockets; the clock injected.
 *
 * @module
 */

import { type Logger, SILENT_LOGGER } from "./log.ts";
import type { IceServer } from "./protocol.ts";
import type { Verdict } from "./rate_limit.ts";
import type { IceIssuer, IceTransportPolicy } from "./turn.ts";

/** How long after a refused budget a member with company is asked for again, ms. */
const RETRY_MS = 60_000;

/** What a member's `RTCPeerConnection`s are given. */
export interface IceConfig {
  ice_servers: IceServer[];
  ice_transport_policy: IceTransportPolicy;
}

/** What {@linkcode RelayGrants} asks of the hub. */
export interface RelayGrantsOptions {
  policy: IceTransportPolicy;
  now: () => number;
  /**
   * Spends one credential from the budget of the address `peerId` is
   * connected from here; undefined when it is not connected here.
   */
  spend(peerId: string): Verdict | undefined;
  /** Whether `peerId` shares a room with anyone (someone to relay to). */
  company(peerId: string): boolean;
  /** Sends `peerId` an `iceServers` frame with `config`. */
  send(peerId: string, config: IceConfig): void;
  /** Default: writes nothing. */
  logger?: Logger;
}

/** A credential a member holds: the list it came in, and when it expires (ms). */
interface Held {
  servers: IceServer[];
  expiresAt: number;
}

/** Per-member TURN credentials of one hub. */
export class RelayGrants {
  readonly #issuer: IceIssuer;
  readonly #options: RelayGrantsOptions;
  readonly #logger: Logger;
  #held = new Map<string, Held>();
  /** Members whose budget answer is on its way (counted in Redis). */
  #pending = new Set<string>();
  /** Members a budget refused, and when to ask again. */
  #retryAt = new Map<string, number>();

  /** Grants minted by `issuer`, on the hub's `options`. */
  constructor(issuer: IceIssuer, options: RelayGrantsOptions) {
    this.#issuer = issuer;
    this.#options = options;
    this.#logger = options.logger ?? SILENT_LOGGER;
  }

  /**
   * What `joined` carries for `peerId`: a credential it holds, or one
   * minted now if it has `company` and its budget allows; otherwise the
   * configured servers (a credential that comes later goes in `iceServers`).
   */
  forJoined(peerId: string, company: boolean): IceConfig {
    const held = this.#live(peerId);
    if (held !== undefined) return this.#config(held.servers);
    const minted = company ? this.#grant(peerId) : undefined;
    return this.#config(minted ?? this.#issuer.servers);
  }

  /** `peerId` has company now (someone joined, or it resumed): it gets a credential if it holds none. */
  needed(peerId: string): void {
    if (this.#live(peerId) !== undefined || this.#pending.has(peerId)) return;
    const minted = this.#grant(peerId);
    if (minted !== undefined) this.#options.send(peerId, this.#config(minted));
  }

  /**
   * Housekeeping for one connected member with company: a credential in the
   * last fifth of its life (at most an hour before it ends) is renewed,
   * free; a member without a valid one (a budget said no a minute ago, or
   * it ran out while nobody was there to relay to) is asked for again.
   */
  tick(peerId: string, now: number): void {
    if (!this.#issuer.minting || !this.#options.company(peerId)) return;
    const held = this.#held.get(peerId);
    if (held !== undefined && now < held.expiresAt) {
      if (now >= held.expiresAt - Math.min(this.#issuer.ttlMs / 5, 3_600_000)) {
        this.#options.send(peerId, this.#config(this.#mint(peerId)));
      }
      return;
    }
    if (this.#pending.has(peerId) || now < (this.#retryAt.get(peerId) ?? 0)) return;
    this.#retryAt.delete(peerId);
    this.needed(peerId);
  }

  /** `peerId` left, or its connection moved to another instance: nothing is kept for it. */
  forget(peerId: string): void {
    this.#held.delete(peerId);
    this.#pending.delete(peerId);
    this.#retryAt.delete(peerId);
  }

  /** The credential `peerId` holds, if it is still valid. */
  #live(peerId: string): Held | undefined {
    const held = this.#held.get(peerId);
    return held !== undefined && this.#options.now() < held.expiresAt ? held : undefined;
  }

  /** Mints if the budget allows now; a budget that answers later sends once granted. */
  #grant(peerId: string): IceServer[] | undefined {
    if (!this.#issuer.minting) return;
    const verdict = this.#options.spend(peerId);
    if (verdict === undefined) return;
    if (verdict === true) return this.#mint(peerId);
    if (verdict === false) return this.#refused(peerId);
    this.#pending.add(peerId);
    verdict.then((granted) => {
      if (!this.#pending.delete(peerId)) return; // forgotten meanwhile
      if (!granted) return this.#refused(peerId);
      if (this.#options.company(peerId)) {
        this.#options.send(peerId, this.#config(this.#mint(peerId)));
      }
    }).catch((error) => this.#logger.log("error", "TURN grant failed", { error: String(error) }));
  }

  #refused(peerId: string): undefined {
    this.#logger.log("info", "TURN credential refused: address budget spent", { peer: peerId });
    this.#retryAt.set(peerId, this.#options.now() + RETRY_MS);
  }

  #mint(peerId: string): IceServer[] {
    const { iceServers, expiresAt } = this.#issuer.issue();
    this.#held.set(peerId, { servers: iceServers, expiresAt });
    this.#retryAt.delete(peerId);
    return iceServers;
  }

  #config(servers: IceServer[]): IceConfig {
    return { ice_servers: servers, ice_transport_policy: this.#options.policy };
  }
}
