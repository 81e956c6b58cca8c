/**
 * The door question: what a newcomer's `join` of a room would meet now —
 * `open`, `locked` or `password` — asked from the pre-join screen, so it
 * can offer "Ask to join" or the password field before anyone presses
 * Join. Nothing else about the room is told: an unused room answers like
 * an open one. Each connection watches the one room it asked about last
 * and hears `door` again whenever its answer changes (a lock, a password,
 * a removal of its browser, the meeting ending). Every instance of a
 * cluster applies the same ops, so each tells the watchers connected to
 * it. A `join`, `knock` or `resume`, a question about another room and the
 * close end the watch.
 *
 * @module
 */

import type { Authority } from "./authority.ts";
import type { Link } from "./link.ts";
import type { Door, DoorRequest, ServerMessage } from "./protocol.ts";

/** What {@linkcode Doors} needs. */
export interface DoorsOptions {
  authority: Authority;
  /** Sends a frame on `link`; false when it no longer speaks for anyone (closed, kicked). */
  send(link: Link, message: ServerMessage): boolean;
}

/** One connection's watch: the question and the answer it last heard. */
interface Watch extends DoorRequest {
  door: Door;
}

/** Answers door questions and keeps the askers informed, one room per connection. */
export class Doors {
  readonly #o: DoorsOptions;
  /** What each connection watches. */
  readonly #watches = new Map<Link, Watch>();
  /** The connections watching each room. */
  readonly #rooms = new Map<string, Set<Link>>();

  constructor(options: DoorsOptions) {
    this.#o = options;
  }

  /** Connections watching a door. */
  get watchers(): number {
    return this.#watches.size;
  }

  /** `link` asks what stands at a room's door: it hears `door` now and on every change. */
  ask(link: Link, request: DoorRequest): void {
    // Whoever watches already hears of a change first (its order is the rooms').
    this.settle();
    this.drop(link);
    const { channel } = request;
    const door = this.#o.authority.doorOf(channel, request.browser);
    this.#watches.set(link, { ...request, door });
    let links = this.#rooms.get(channel);
    if (links === undefined) this.#rooms.set(channel, links = new Set());
    links.add(link);
    if (!this.#o.send(link, { event: "door", data: { channel, door } })) this.drop(link);
  }

  /** `link` stops watching (it joined, knocked, resumed or closed). */
  drop(link: Link): void {
    const watch = this.#watches.get(link);
    if (watch === undefined) return;
    this.#watches.delete(link);
    const links = this.#rooms.get(watch.channel);
    links?.delete(link);
    if (links?.size === 0) this.#rooms.delete(watch.channel);
  }

  /** Rooms may have changed (an op applied, rooms loaded): watchers of a changed door hear it. */
  settle(): void {
    const changed = this.#o.authority.takeDoorChanges();
    if (this.#rooms.size === 0) return;
    const channels = changed === true ? [...this.#rooms.keys()] : changed;
    // Collected first: a send may close a slow connection, which drops its watch.
    const sends: [Link, ServerMessage][] = [];
    for (const channel of channels) {
      for (const link of this.#rooms.get(channel) ?? []) {
        const watch = this.#watches.get(link)!;
        const door = this.#o.authority.doorOf(channel, watch.browser);
        if (door === watch.door) continue;
        watch.door = door;
        sends.push([link, { event: "door", data: { channel, door } }]);
      }
    }
    for (const [link, message] of sends) {
      if (!this.#o.send(link, message)) this.drop(link);
    }
  }
}
