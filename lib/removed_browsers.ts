/**
 * Removed browsers: the browser id each member entered a room with, and the
 * browsers a host removed from it, whose joins count as knocks for the rest
 * of the meeting. Part of the room authority (`authority.ts` decides when a
 * removed browser is kept out).
 *
 * @module
 */

/** Every room's members' browsers and its removed browsers. */
export class RemovedBrowsers {
  /** channel → member → the browser id it entered with. */
  #browsers = new Map<string, Map<string, string>>();
  /** channel → browser ids removed from it. */
  #removed = new Map<string, Set<string>>();

  /** Remembers that `peerId` entered `channel` with `browser`. */
  entered(channel: string, peerId: string, browser: string): void {
    const browsers = this.#browsers.get(channel);
    if (browsers === undefined) this.#browsers.set(channel, new Map([[peerId, browser]]));
    else browsers.set(peerId, browser);
  }

  /** Forgets the browser of `peerId`, who left `channel`. */
  left(channel: string, peerId: string): void {
    this.#browsers.get(channel)?.delete(peerId);
  }

  /** The other members of `channel` who entered with the same browser as `peerId`. */
  sameBrowser(channel: string, peerId: string): string[] {
    const browsers = this.#browsers.get(channel);
    const browser = browsers?.get(peerId);
    if (browsers === undefined || browser === undefined) return [];
    return [...browsers].filter(([id, b]) => b === browser && id !== peerId).map(([id]) => id);
  }

  /** Remembers the browser `peerId` entered `channel` with as removed; false if none is known. */
  remove(channel: string, peerId: string): boolean {
    const browser = this.#browsers.get(channel)?.get(peerId);
    if (browser === undefined) return false;
    const removed = this.#removed.get(channel);
    if (removed === undefined) this.#removed.set(channel, new Set([browser]));
    else removed.add(browser);
    return true;
  }

  /** Whether `browser` was removed from `channel`. */
  isRemoved(channel: string, browser: string | undefined): boolean {
    return browser !== undefined && (this.#removed.get(channel)?.has(browser) ?? false);
  }

  /** Member → browser pairs of `channel`, for saving. */
  entries(channel: string): [string, string][] {
    return [...(this.#browsers.get(channel) ?? [])];
  }

  /** The browsers removed from `channel`, for saving. */
  removed(channel: string): string[] {
    return [...(this.#removed.get(channel) ?? [])];
  }

  /** Sets `channel`'s members' browsers and removed browsers (a restored room). */
  put(channel: string, browsers: Iterable<[string, string]>, removed: Iterable<string>): void {
    this.#browsers.set(channel, new Map(browsers));
    this.#removed.set(channel, new Set(removed));
  }

  /** Forgets `channel` (its meeting is over). */
  drop(channel: string): void {
    this.#browsers.delete(channel);
    this.#removed.delete(channel);
  }

  /** Forgets every room. */
  clear(): void {
    this.#browsers.clear();
    this.#removed.clear();
  }
}
