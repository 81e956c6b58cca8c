/**
 * Session resume: identity outlives a connection. This module keeps what
 * that needs, keyed by peer id — the newest resume token issued to each
 * identity, the peers held "away" after an abnormal close with the frames
 * queued for them, and the ids retired by a deliberate leave (whose tokens
 * are refused from then on, also after a restart, via `retired.ts`).
 *
 * It decides; the hub acts: it moves a connection onto the identity a
 * token proves and sends the frames. No sockets, no timers: the hub passes
 * `now`. See "Resuming" in docs/protocol.md.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import type { TokenSigner } from "./token.ts";

/** Limits and collaborators of a {@linkcode Resume}; every field has a default. */
export interface ResumeOptions {
  /** Signs resume tokens; without it peers cannot resume and drops remove at once. */
  tokens?: TokenSigner;
  /** How long an abnormally closed peer is held away, ms. Default 25,000. */
  resumeWindowMs?: number;
  /** Lifetime of a resume token, ms; refreshed at half-life. Default 120,000. */
  tokenTtlMs?: number;
  /** Frames held for an away peer. Default 200. */
  maxHeldMessages?: number;
  /** Bytes held for an away peer. Default 256 KiB. */
  maxHeldBytes?: number;
  /** Peers held away at once; past this a dropped peer is removed at once. Default 1,000. */
  maxAwayPeers?: number;
  /** Ids retired before this hub started (loaded from disk), with their end times. */
  retired?: Iterable<[string, number]>;
  /** Default: writes nothing. */
  logger?: Logger;
}

/** The identity a resume token proves, or why it proves none (a `bad_token` message). */
export type Claim = { ok: true; peerId: string } | { ok: false; why: string };

/** Bounds on what is held for one away peer. */
interface HoldLimits {
  frames: number;
  bytes: number;
}

/** One away spell: since when, and the frames held for the peer's return. */
class Away {
  since: number;
  #held: string[] = [];
  #bytes = 0;
  #warned = false;
  constructor(since: number) {
    this.since = since;
  }

  /** The frames held so far, in order. */
  get held(): string[] {
    return this.#held;
  }

  /** Holds `text` within `limits`; true only for the first frame dropped in this spell. */
  hold(text: string, limits: HoldLimits): boolean {
    const bytes = text.length;
    if (this.#held.length < limits.frames && this.#bytes + bytes <= limits.bytes) {
      this.#held.push(text);
      this.#bytes += bytes;
      return false;
    }
    // Once per away spell, not once per frame: a busy room sends hundreds.
    if (this.#warned) return false;
    this.#warned = true;
    return true;
  }
}

/** Resume tokens, away peers and retired ids of one hub. */
export class Resume {
  readonly #signer: TokenSigner | undefined;
  readonly #windowMs: number;
  readonly #ttlMs: number;
  readonly #holdLimits: HoldLimits;
  readonly #maxAway: number;
  readonly #logger: Logger;
  /** peer id → when its newest token expires (it was issued one TTL before). */
  #issued = new Map<string, number>();
  #away = new Map<string, Away>();
  /** Ids that left on purpose, until their tokens would have expired. */
  #retired = new Map<string, number>();
  #retiredVersion = 0;

  /** A keeper with `options`, each defaulting to {@linkcode DEFAULTS}. */
  constructor(options: ResumeOptions = {}) {
    this.#signer = options.tokens;
    this.#windowMs = options.resumeWindowMs ?? DEFAULTS.resumeWindowSeconds * 1000;
    this.#ttlMs = options.tokenTtlMs ?? DEFAULTS.resumeTokenTtlSeconds * 1000;
    this.#holdLimits = {
      frames: options.maxHeldMessages ?? DEFAULTS.maxHeldMessages,
      bytes: options.maxHeldBytes ?? DEFAULTS.maxHeldBytes,
    };
    this.#maxAway = options.maxAwayPeers ?? DEFAULTS.maxAwayPeers;
    this.#logger = options.logger ?? SILENT_LOGGER;
    for (const [id, until] of options.retired ?? []) this.#retired.set(id, until);
  }

  /** Whether peers can resume at all (there is a token signer). */
  get enabled(): boolean {
    return this.#signer !== undefined;
  }

  /** The resume window announced in `welcome`, whole seconds. */
  get windowSeconds(): number {
    return Math.round(this.#windowMs / 1000);
  }

  /** Peers held away, waiting for their client to resume. */
  get awayCount(): number {
    return this.#away.size;
  }

  /** Bumped whenever the retired set changes, so a saver knows when to write. */
  get retiredVersion(): number {
    return this.#retiredVersion;
  }

  /** Ids that left on purpose and until when their tokens are refused. */
  retiredEntries(): [string, number][] {
    return [...this.#retired];
  }

  /** Adds retirements another instance of the cluster knows of. */
  addRetired(entries: Iterable<[string, number]>): void {
    for (const [id, until] of entries) this.#retired.set(id, until);
    this.#retiredVersion++;
  }

  /** Whether `peerId` left on purpose and may not be handed out or resumed. */
  isRetired(peerId: string): boolean {
    return this.#retired.has(peerId);
  }

  /** Signs a token for `peerId`; it supersedes every earlier one. Needs {@linkcode enabled}. */
  issue(peerId: string, now: number): string {
    if (this.#signer === undefined) throw new TypeError("Cannot issue a resume token: no signer");
    const expiresAt = now + this.#ttlMs;
    this.#issued.set(peerId, expiresAt);
    return this.#signer.sign({ peerId, expiresAt });
  }

  /** Whether a connected peer's token is at half-life and should be refreshed. */
  refreshDue(peerId: string, now: number): boolean {
    if (this.#signer === undefined) return false;
    return now >= (this.#issued.get(peerId) ?? 0) - this.#ttlMs / 2;
  }

  /**
   * Checks a `resume` token: the identity it proves, or why not.
   * `current` is the identity the resuming connection already has.
   */
  claim(token: string, { now, current }: { now: number; current: string }): Claim {
    if (this.#signer === undefined) {
      return { ok: false, why: "this server does not support resuming" };
    }
    const claims = this.#signer.verify(token, now);
    if (claims === "expired") return { ok: false, why: "the token has expired" };
    if (typeof claims === "string") return { ok: false, why: "the token is not valid" };
    if (this.#retired.has(claims.peerId)) return { ok: false, why: "that peer has left" };
    if (claims.peerId === current) return { ok: false, why: "already that peer" };
    // A refresh supersedes older tokens: a leaked old copy cannot take over.
    // An identity this hub never issued to (it restarted) has no newest.
    const newest = this.#issued.get(claims.peerId);
    if (newest !== undefined && claims.expiresAt < newest) {
      return { ok: false, why: "the token was superseded by a newer one" };
    }
    return { ok: true, peerId: claims.peerId };
  }

  /** Whether `peerId` is held away. */
  isAway(peerId: string): boolean {
    return this.#away.has(peerId);
  }

  /**
   * Holds a peer whose socket dropped abnormally. False (and nothing held)
   * when resuming is off or too many peers are away: then it leaves now.
   */
  goAway(peerId: string, now: number): boolean {
    if (this.#signer === undefined) return false;
    const away = this.#away.get(peerId);
    if (away !== undefined) {
      // Away again before it was ever back (a resume whose socket closed
      // first): a new window, and what was held so far still waits for it.
      away.since = now;
      return true;
    }
    if (this.#away.size >= this.#maxAway) {
      this.#logger.log("warn", "too many away peers; removing at once", { peer: peerId });
      return false;
    }
    this.#away.set(peerId, new Away(now));
    return true;
  }

  /** Whether `peerId` has been away for the whole window (the hub then removes it). */
  windowPassed(peerId: string, now: number): boolean {
    const away = this.#away.get(peerId);
    return away !== undefined && now - away.since >= this.#windowMs;
  }

  /**
   * Queues a frame for an away peer; bounded so an absent peer costs
   * little. A peer that is not away (being removed) gets nothing.
   */
  hold(peerId: string, text: string): void {
    const away = this.#away.get(peerId);
    if (away?.hold(text, this.#holdLimits)) {
      this.#logger.log("warn", "dropping frames for an away peer (hold full)", { peer: peerId });
    }
  }

  /** Ends an away spell: the held frames, in order, or undefined if it was not away. */
  comeBack(peerId: string): string[] | undefined {
    const away = this.#away.get(peerId);
    this.#away.delete(peerId);
    return away?.held;
  }

  /** Forgets an identity given up without leaving (a connection's `welcome` id on resume). */
  forget(peerId: string): void {
    this.#issued.delete(peerId);
    this.#away.delete(peerId);
  }

  /** Forgets an identity that left for good; its tokens are refused until they expire. */
  retire(peerId: string, now: number): void {
    this.forget(peerId);
    if (this.#signer === undefined) return;
    this.#retired.set(peerId, now + this.#ttlMs);
    this.#retiredVersion++;
  }

  /** Drops retired ids whose tokens have expired anyway. */
  sweep(now: number): void {
    for (const [id, until] of this.#retired) {
      if (until <= now) {
        this.#retired.delete(id);
        this.#retiredVersion++;
      }
    }
  }
}
