/**
 * One connection's allowances: its frames (a token bucket whose refusals
 * count as strikes until a flood turns into a close), and its own budgets
 * of joins, knocks, password tries, hashes, `setPassword`s and TURN
 * credentials, each spent together with its share of the address's and
 * rooms' budgets in a {@linkcode BudgetStore}. Made by `RateLimiter`
 * (`rate_limit.ts`), which names the budgets. Pure arithmetic on an
 * injected clock: no sockets, no timers.
 *
 * @module
 */

import { addressGroup, networkOf } from "./address_group.ts";
import type { Budget, BudgetStore, Verdict } from "./budgets.ts";
import { TokenBucket } from "./token_bucket.ts";

/** What one more frame is: accepted, refused, or the last straw (close the connection). */
export type FrameVerdict = "accept" | "refuse" | "abusive";

/** Why a password may not be tried now: this person's tries or the room's are spent. */
export type PasswordTry = "ok" | "mine" | "room";

/** What every connection of one `RateLimiter` shares: its frame limits, named budgets and store. */
export interface SharedLimits {
  burst: number;
  perMs: number;
  abuseLimit: number;
  store: BudgetStore;
  joins: Budget;
  addressJoins: Budget;
  passwordTries: Budget;
  addressPasswordTries: Budget;
  roomPasswordTries: Budget;
  addressRoomPasswordTries: Budget;
  hashes: Budget;
  addressHashes: Budget;
  setPasswords: Budget;
  addressSetPasswords: Budget;
  addressTurn: Budget;
  knocks: Budget;
  denied: Budget;
}

/**
 * Spends `first`, then (if it was granted) `second`; if `second` refuses,
 * `undo` gives `first` back. Stays synchronous while both answers are.
 */
function both(first: Verdict, second: () => Verdict, undo: () => void): Verdict {
  const then = (ok: boolean): Verdict => {
    if (!ok) return false;
    const next = second();
    const settle = (granted: boolean) => {
      if (!granted) undo();
      return granted;
    };
    return typeof next === "boolean" ? settle(next) : next.then(settle);
  };
  return typeof first === "boolean" ? then(first) : first.then(then);
}

/** One connection's allowances: its frames, and its share of the address's and rooms' budgets. */
export class ConnectionLimits {
  readonly #shared: SharedLimits;
  readonly #address: string;
  readonly #frames: TokenBucket;
  readonly #joins: TokenBucket;
  /** This connection's other buckets, made on first use: most connections never need them. */
  #others: Map<Budget, TokenBucket> | undefined;
  #strikes = 0;

  /** Use `RateLimiter.connect`: full allowances as of `now`. */
  constructor(address: string, shared: SharedLimits, now: number) {
    this.#address = address === "" ? "" : addressGroup(address);
    this.#shared = shared;
    this.#frames = new TokenBucket(shared.burst, shared.perMs, now);
    this.#joins = new TokenBucket(shared.joins.burst, shared.joins.perMs, now);
  }

  /** The address group this connection's shared budgets are counted under ("" for none). */
  get address(): string {
    return this.#address;
  }

  /** Spends a frame; refused frames count as strikes until the bucket refills. */
  takeFrame(now: number): FrameVerdict {
    if (this.#frames.take(now)) {
      // A bucket nearly full again means the flood stopped: forgive it.
      if (this.#frames.tokens >= this.#shared.burst - 1) this.#strikes = 0;
      return "accept";
    }
    this.#strikes++;
    return this.#strikes >= this.#shared.abuseLimit ? "abusive" : "refuse";
  }

  /** Spends a join (or knock, or a resume's rejoin of a room it was not known in). */
  takeJoin(now: number): Verdict {
    return this.#pair(this.#joins, this.#shared.addressJoins, now);
  }

  /**
   * Spends a password hash — any join with a password, right or wrong,
   * and any `setPassword` — from the connection's budget and its address's.
   */
  takeHash(now: number): Verdict {
    return this.#pair(this.#own(this.#shared.hashes, now), this.#shared.addressHashes, now);
  }

  /** Spends a `setPassword` from the connection's budget and its address's. */
  takeSetPassword(now: number): Verdict {
    const own = this.#own(this.#shared.setPasswords, now);
    return this.#pair(own, this.#shared.addressSetPasswords, now);
  }

  /**
   * Spends a password try from the connection's, its address's and the
   * room's budgets before the (costly) hash is computed;
   * {@linkcode ConnectionLimits.returnPasswordTry} gives them back, so only
   * wrong passwords count.
   */
  takePasswordTry(room: string, now: number): Verdict<PasswordTry> {
    const { store, passwordTries, addressPasswordTries, roomPasswordTries } = this.#shared;
    const { addressRoomPasswordTries: share } = this.#shared;
    const own = this.#pair(this.#own(passwordTries, now), addressPasswordTries, now);
    // This address's share of the room's tries: also "mine".
    const mine = this.#address === "" ? own : both(
      own,
      () => store.take(share, `${room} ${this.#address}`, now),
      () => this.returnPasswordTry(room, now, { room: false, share: false }),
    );
    const then = (ok: boolean): Verdict<PasswordTry> => {
      if (!ok) return "mine";
      const undo = () => this.returnPasswordTry(room, now, { room: false });
      const roomOk = store.take(roomPasswordTries, room, now);
      const settle = (granted: boolean): PasswordTry => {
        if (granted) return "ok";
        undo();
        return "room";
      };
      return typeof roomOk === "boolean" ? settle(roomOk) : roomOk.then(settle);
    };
    return typeof mine === "boolean" ? then(mine) : mine.then(then);
  }

  /**
   * Returns the tries a right password (or one never checked) took: the
   * connection's, the address's, its share of the room's (unless `share`
   * is false) and the room's (unless `room` is false).
   */
  returnPasswordTry(
    room: string,
    now: number,
    { room: ofRoom = true, share = true }: { room?: boolean; share?: boolean } = {},
  ): void {
    const { store, passwordTries, addressPasswordTries, roomPasswordTries } = this.#shared;
    this.#others?.get(passwordTries)?.giveBack();
    if (this.#address !== "") {
      store.giveBack(addressPasswordTries, this.#address, now);
      if (share) {
        store.giveBack(this.#shared.addressRoomPasswordTries, `${room} ${this.#address}`, now);
      }
    }
    if (ofRoom) store.giveBack(roomPasswordTries, room, now);
  }

  /** Returns a hash that was never computed (the hashing queue was full). */
  returnHash(now: number): void {
    this.#others?.get(this.#shared.hashes)?.giveBack();
    if (this.#address !== "") {
      this.#shared.store.giveBack(this.#shared.addressHashes, this.#address, now);
    }
  }

  /** Returns a `setPassword` whose hash was never computed. */
  returnSetPassword(now: number): void {
    this.#others?.get(this.#shared.setPasswords)?.giveBack();
    if (this.#address !== "") {
      this.#shared.store.giveBack(this.#shared.addressSetPasswords, this.#address, now);
    }
  }

  /** The network this connection's address belongs to (for the hashing queue's fairness). */
  get network(): string {
    return networkOf(this.#address);
  }

  /** Spends one TURN credential from the address's budget (first mints; renewals are free). */
  takeTurnCredential(now: number): Verdict {
    if (this.#address === "") return true;
    return this.#shared.store.take(this.#shared.addressTurn, this.#address, now);
  }

  /**
   * Spends a knock on `room`: refused while this person, this address or
   * `browser` waits after a deny there, or once the address has knocked
   * there its few times.
   */
  takeKnock(
    room: string,
    { peerId, browser }: { peerId: string; browser?: string },
    now: number,
  ): Verdict {
    const { store, denied, knocks } = this.#shared;
    const waits = [`peer ${room} ${peerId}`];
    if (this.#address !== "") waits.push(`address ${room} ${this.#address}`);
    if (browser !== undefined) waits.push(`browser ${room} ${browser}`);
    // A wait is looked at, not spent.
    let verdict: Verdict = true;
    for (const key of waits) verdict = both(verdict, () => store.peek(denied, key, now), () => {});
    if (this.#address === "") return verdict;
    return both(verdict, () => store.take(knocks, `${room} ${this.#address}`, now), () => {});
  }

  /** This connection's own bucket of `budget`, made on first use. */
  #own(budget: Budget, now: number): TokenBucket {
    this.#others ??= new Map();
    let bucket = this.#others.get(budget);
    if (bucket === undefined) {
      bucket = new TokenBucket(budget.burst, budget.perMs, now);
      this.#others.set(budget, bucket);
    }
    return bucket;
  }

  /**
   * Spends from the connection's own `mine` and then its address's
   * `shared`; `mine` back if the address refuses. No closure on the sync path.
   */
  #pair(mine: TokenBucket, shared: Budget, now: number): Verdict {
    if (!mine.take(now)) return false;
    // No address (tests, a transport without one): the connection's budget only.
    if (this.#address === "") return true;
    const verdict = this.#shared.store.take(shared, this.#address, now);
    if (verdict === true) return true;
    if (verdict === false) {
      mine.giveBack();
      return false;
    }
    return verdict.then((granted) => {
      if (!granted) mine.giveBack();
      return granted;
    });
  }
}
