/**
 * Rate limits: the {@linkcode RateLimiter} that names every budget and its
 * size — frames per connection (with the strikes that turn a flood into a
 * close), and small named budgets for everything a stranger can make the
 * server do that costs it or others something: joins and knocks (against
 * scanning for rooms by name), password hashes, wrong passwords (per
 * connection, per address and per room), TURN credentials, knocks on one
 * door and a denied knocker's wait — and hands each connection its
 * {@linkcode ConnectionLimits}.
 *
 * The parts live beside it and are re-exported here, so callers import
 * rate limits from this one path: the counting device (`token_bucket.ts`),
 * one connection's allowances (`connection_limits.ts`), budgets shared by
 * many connections and the store that counts them — this process's, or
 * Redis's in a cluster (`budgets.ts`) — and address grouping, IPv6 by /64
 * (`address_group.ts`). Pure arithmetic on an injected clock: no sockets,
 * no timers.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";
import { type Budget, type BudgetStore, LocalBudgets } from "./budgets.ts";
import { ConnectionLimits, type SharedLimits } from "./connection_limits.ts";
import { addressGroup } from "./address_group.ts";

export { TokenBucket } from "./token_bucket.ts";
export { allOf, type Budget, type BudgetStore, LocalBudgets, type Verdict } from "./budgets.ts";
export { ConnectionLimits, type FrameVerdict, type PasswordTry } from "./connection_limits.ts";
export { addressGroup, networkOf } from "./address_group.ts";

/** Limits of a {@linkcode RateLimiter}; every field has a default. */
export interface RateLimitOptions {
  /** Token-bucket size: frames accepted in a burst. Default 500. */
  rateBurst?: number;
  /** Token-bucket refill, frames per second. Default 100. */
  ratePerSecond?: number;
  /** Rate-refused frames, without a pause, before closing with 1008. Default 1000. */
  abuseLimit?: number;
  /**
   * Joins one connection may attempt in a burst, refilled at
   * `joinsPerMinute`; the same budget, times ten, is shared by every
   * connection from one client address. Stops scanning for rooms by
   * name. Default 10.
   */
  joinBurst?: number;
  /** Join attempts per minute once the burst is spent. Default 10. */
  joinsPerMinute?: number;
  /**
   * Wrong room passwords one connection may try per `passwordTryWindowMs`
   * (a right one costs nothing). Default 5.
   */
  passwordTriesPerConnection?: number;
  /** The same, for every connection from one client address together. Default 20. */
  passwordTriesPerAddress?: number;
  /**
   * The same, for one address against one room: spending a room's budget
   * takes several networks, not one patient one. Default 5.
   */
  passwordTriesPerAddressPerRoom?: number;
  /**
   * The same, for one room, whoever tries (many addresses guessing one
   * room's password). Past it every newcomer to that room waits. Default 20.
   */
  passwordTriesPerRoom?: number;
  /** The window those refill over, ms. Default 600,000 (ten minutes). */
  passwordTryWindowMs?: number;
  /**
   * Password hashes (a join with a password, right or wrong, and a
   * `setPassword`) one connection may cause per minute; ten times that
   * per address. Default 6.
   */
  hashesPerMinute?: number;
  /** `setPassword`s one connection may make per minute; ten times that per address. Default 3. */
  setPasswordsPerMinute?: number;
  /** TURN credentials minted for one address per hour (renewals in a call are free). Default 10. */
  turnCredentialsPerHour?: number;
  /** Knocks one address may make on one room per ten minutes. Default 5. */
  knocksPerRoom?: number;
  /** How long a denied knocker (person, address or browser) waits to knock that room again, ms. Default 60,000. */
  deniedWaitMs?: number;
  /** Where shared budgets are counted. Default: a fresh {@linkcode LocalBudgets}. */
  budgets?: BudgetStore;
}

/** An office behind one NAT still joins: an address gets ten connections' budget. */
const ADDRESS_FACTOR = 10;

function budget(name: string, burst: number, windowMs: number): Budget {
  return { name, burst, perMs: burst / windowMs };
}

/** Hands out each connection's allowances and keeps the shared ones. */
export class RateLimiter {
  readonly #shared: SharedLimits;

  /** A limiter with `options`, each defaulting to {@linkcode DEFAULTS}. */
  constructor(options: RateLimitOptions = {}) {
    const joinBurst = options.joinBurst ?? DEFAULTS.joinBurst;
    const joinsPerMinute = options.joinsPerMinute ?? DEFAULTS.joinsPerMinute;
    const windowMs = options.passwordTryWindowMs ?? DEFAULTS.passwordTryWindowSeconds * 1000;
    const passwordTries = options.passwordTriesPerConnection ?? DEFAULTS.passwordTriesPerConnection;
    const perAddress = options.passwordTriesPerAddress ?? DEFAULTS.passwordTriesPerAddress;
    const perRoom = options.passwordTriesPerRoom ?? DEFAULTS.passwordTriesPerRoom;
    const hashes = options.hashesPerMinute ?? DEFAULTS.hashesPerMinute;
    const setPasswords = options.setPasswordsPerMinute ?? DEFAULTS.setPasswordsPerMinute;
    const turn = options.turnCredentialsPerHour ?? DEFAULTS.turnCredentialsPerHour;
    const knocks = options.knocksPerRoom ?? DEFAULTS.knocksPerRoom;
    const deniedWaitMs = options.deniedWaitMs ?? DEFAULTS.deniedWaitSeconds * 1000;
    const joinsPerMs = joinsPerMinute / 60_000;
    this.#shared = {
      burst: options.rateBurst ?? DEFAULTS.rateBurst,
      perMs: (options.ratePerSecond ?? DEFAULTS.ratePerSecond) / 1000,
      abuseLimit: options.abuseLimit ?? DEFAULTS.abuseLimit,
      store: options.budgets ?? new LocalBudgets(),
      joins: { name: "joins", burst: joinBurst, perMs: joinsPerMs },
      addressJoins: {
        name: "address-joins",
        burst: joinBurst * ADDRESS_FACTOR,
        perMs: joinsPerMs * ADDRESS_FACTOR,
      },
      passwordTries: budget("password-tries", passwordTries, windowMs),
      addressPasswordTries: budget("address-password-tries", perAddress, windowMs),
      roomPasswordTries: budget("room-password-tries", perRoom, windowMs),
      addressRoomPasswordTries: budget(
        "address-room-password-tries",
        options.passwordTriesPerAddressPerRoom ?? DEFAULTS.passwordTriesPerAddressPerRoom,
        windowMs,
      ),
      hashes: budget("hashes", hashes, 60_000),
      addressHashes: budget("address-hashes", hashes * ADDRESS_FACTOR, 60_000),
      setPasswords: budget("set-passwords", setPasswords, 60_000),
      addressSetPasswords: budget("address-set-passwords", setPasswords * ADDRESS_FACTOR, 60_000),
      addressTurn: budget("address-turn", turn, 3_600_000),
      knocks: budget("knocks", knocks, 600_000),
      denied: budget("denied", 1, deniedWaitMs),
    };
  }

  /** Shared budgets still refilling in this process (for tests and metrics). */
  get addressCount(): number {
    const store = this.#shared.store;
    return store instanceof LocalBudgets ? store.size : 0;
  }

  /** Full allowances for a new connection from `address` ("" for none). */
  connect(address: string, now: number): ConnectionLimits {
    return new ConnectionLimits(address, this.#shared, now);
  }

  /**
   * A host denied a knock on `room`: that person, their address (its group)
   * and their browser wait before knocking there again — whether or not
   * they are connected now.
   */
  denied(
    room: string,
    { peerId, address, browser }: { peerId: string; address: string; browser?: string },
    now: number,
  ): void {
    const { store, denied } = this.#shared;
    store.drain(denied, `peer ${room} ${peerId}`, now);
    if (address !== "") store.drain(denied, `address ${room} ${addressGroup(address)}`, now);
    if (browser !== undefined) store.drain(denied, `browser ${room} ${browser}`, now);
  }

  /** Forgets shared budgets that refilled: they would start full anyway. */
  sweep(now: number): void {
    this.#shared.store.sweep(now);
  }
}
