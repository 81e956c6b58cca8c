/**
 * Rate limits: a token bucket of frames per connection (with the strikes
 * that turn a flood into a close), and small named budgets for everything
 * a stranger can make the server do that costs it or others something —
 * joins and knocks (against scanning for rooms by name), password hashes,
 * wrong passwords (per connection, per address and per room), TURN
 * credentials, knocks on one door and a denied knocker's wait.
 *
 * Budgets of one connection live here; budgets shared by many connections
 * (an address's, a room's) live in a {@linkcode BudgetStore}: this
 * process's ({@linkcode LocalBudgets}), or Redis's in a cluster, so that N
 * instances do not give N times the budget. A shared budget's answer may
 * be a promise then. Addresses are grouped: IPv6 by /64 ({@linkcode addressGroup}).
 * Pure arithmetic on an injected clock: no sockets, no timers.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";

/** A refilling allowance of actions. */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #at: number;

  /** A full bucket of `burst` actions refilling at `perMs` per millisecond, as of `now`. */
  constructor(burst: number, perMs: number, now: number) {
    this.#burst = burst;
    this.#perMs = perMs;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Actions left as of the last {@linkcode TokenBucket.take}. */
  get tokens(): number {
    return this.#tokens;
  }

  /** Spends one action if there is one left. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Gives back an action taken by {@linkcode TokenBucket.take} (it turned out free). */
  giveBack(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }

  /** Spends everything: the bucket refills from `now` (a wait imposed). */
  drain(now: number): void {
    this.#refill(now);
    this.#tokens = 0;
  }

  /** Whether an action is left as of `now`, spending nothing. */
  available(now: number): boolean {
    return Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs) >= 1;
  }

  /** Whether the bucket is back to a full burst (nothing to remember). */
  full(now: number): boolean {
    return this.#tokens + (now - this.#at) * this.#perMs >= this.#burst;
  }

  #refill(now: number) {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs);
    this.#at = now;
  }
}

/** A budget many connections share: its name (part of the key), burst and refill per ms. */
export interface Budget {
  readonly name: string;
  readonly burst: number;
  readonly perMs: number;
}

/** A shared budget's answer: at once here, or once Redis answered in a cluster. */
export type Verdict<T = boolean> = T | Promise<T>;

/**
 * Where budgets shared by several connections are counted, by budget and
 * key (an address group, a room, a browser): in this process, or in Redis
 * so every instance of a cluster spends from one count.
 */
export interface BudgetStore {
  /** Spends one action of `budget` for `key` if one is left. */
  take(budget: Budget, key: string, now: number): Verdict;
  /** Gives back an action {@linkcode BudgetStore.take} spent (it turned out free). */
  giveBack(budget: Budget, key: string, now: number): void;
  /** Empties `key`'s budget: it refills from now (a wait imposed, as after a deny). */
  drain(budget: Budget, key: string, now: number): void;
  /** Whether `key` has an action left, spending nothing (a wait looked at). */
  peek(budget: Budget, key: string, now: number): Verdict;
  /** Forgets budgets that refilled (they would start full anyway). */
  sweep(now: number): void;
}

/** Shared budgets in this process: one bucket per budget and key, made on first use. */
export class LocalBudgets implements BudgetStore {
  /** By budget, then key: no string is built per take on the join path. */
  #buckets = new Map<Budget, Map<string, TokenBucket>>();

  /** Budgets remembered now (still refilling). */
  get size(): number {
    let size = 0;
    for (const byKey of this.#buckets.values()) size += byKey.size;
    return size;
  }

  take(budget: Budget, key: string, now: number): boolean {
    return this.#bucket(budget, key, now).take(now);
  }

  giveBack(budget: Budget, key: string): void {
    this.#buckets.get(budget)?.get(key)?.giveBack();
  }

  drain(budget: Budget, key: string, now: number): void {
    this.#bucket(budget, key, now).drain(now);
  }

  peek(budget: Budget, key: string, now: number): boolean {
    return this.#buckets.get(budget)?.get(key)?.available(now) ?? true;
  }

  sweep(now: number): void {
    for (const [budget, byKey] of this.#buckets) {
      for (const [key, bucket] of byKey) if (bucket.full(now)) byKey.delete(key);
      if (byKey.size === 0) this.#buckets.delete(budget);
    }
  }

  #bucket(budget: Budget, key: string, now: number): TokenBucket {
    let byKey = this.#buckets.get(budget);
    if (byKey === undefined) this.#buckets.set(budget, byKey = new Map());
    let bucket = byKey.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(budget.burst, budget.perMs, now);
      byKey.set(key, bucket);
    }
    return bucket;
  }
}

/**
 * The key a client address is counted under: an IPv4 address as it is, an
 * IPv6 address by its /64 (one subscriber's whole prefix: 2^64 addresses
 * that one person may hold), an IPv4-mapped IPv6 address as its IPv4.
 */
export function addressGroup(address: string): string {
  // Most addresses are IPv4: nothing to do (once per connection, on the join storm's path).
  if (!address.includes(":")) return address;
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  if (!bare.includes(":")) return address;
  const groups = ipv6Groups(bare);
  if (groups === undefined) return address;
  // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/**
 * The network an address group belongs to, for what one network may hold
 * at once (places in the hashing queue): an IPv6 /64 group by its /48 (a
 * subscriber often holds a whole /48), anything else as it is.
 */
export function networkOf(group: string): string {
  if (!group.endsWith("::/64")) return group;
  return `${group.slice(0, -5).split(":").slice(0, 3).join(":")}::/48`;
}

/** The eight 16-bit groups of an IPv6 address; undefined if it is not one. */
function ipv6Groups(text: string): number[] | undefined {
  let body = text;
  const tail: string[] = [];
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const quad = /(?:^|:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(body);
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    if ([a, b, c, d].some((n) => n > 255)) return;
    tail.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    body = body.slice(0, quad.index + (quad[0].startsWith(":") ? 1 : 0));
    if (body.endsWith(":") && !body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return;
  const split = (part: string) => part === "" ? [] : part.split(":");
  const head = split(halves[0]);
  const rest = [...(halves.length === 2 ? split(halves[1]) : []), ...tail];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return;
  return all.map((g) => parseInt(g, 16));
}

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

/** What one more frame is: accepted, refused, or the last straw (close the connection). */
export type FrameVerdict = "accept" | "refuse" | "abusive";

/** Why a password may not be tried now: this person's tries or the room's are spent. */
export type PasswordTry = "ok" | "mine" | "room";

/** An office behind one NAT still joins: an address gets ten connections' budget. */
const ADDRESS_FACTOR = 10;

/** What every connection of one {@linkcode RateLimiter} shares: its settings and the store. */
interface Shared {
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

function budget(name: string, burst: number, windowMs: number): Budget {
  return { name, burst, perMs: burst / windowMs };
}

/** All of `verdicts`, at once if every one is known now. */
export function allOf<T>(verdicts: Verdict<T>[]): Verdict<T[]> {
  return verdicts.some((v) => v instanceof Promise) ? Promise.all(verdicts) : verdicts as T[];
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
  readonly #shared: Shared;
  readonly #address: string;
  readonly #frames: TokenBucket;
  readonly #joins: TokenBucket;
  /** This connection's other buckets, made on first use: most connections never need them. */
  #others: Map<Budget, TokenBucket> | undefined;
  #strikes = 0;

  /** Use {@linkcode RateLimiter.connect}: full allowances as of `now`. */
  constructor(address: string, shared: Shared, now: number) {
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

/** Hands out each connection's allowances and keeps the shared ones. */
export class RateLimiter {
  readonly #shared: Shared;

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
