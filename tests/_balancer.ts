/**
 * A loopback TCP load balancer in front of several server instances, for
 * the multi-instance tests: round robin or pinned to one backend, passing
 * over backends that refuse connections (a dead instance), and cutting a
 * client the moment its backend's connection ends, without a WebSocket
 * close frame (the browser sees 1006, as behind nginx when an upstream dies).
 *
 * @module
 */

/** A running balancer; see {@linkcode startBalancer}. */
export interface Balancer {
  /** The loopback port clients connect to. */
  port: number;
  /**
   * Sends new connections to backend `index` while it accepts them (the next
   * ones in turn when it refuses); `null` goes back to round robin.
   */
  pin(index: number | null): void;
  /**
   * While `on`, new connections are closed at once (as if every backend
   * were down); those already through keep going.
   */
  hold(on: boolean): void;
  /** How many client connections backend `index` carries now. */
  connectionsTo(index: number): number;
  /** Closes the listener and every connection through it. */
  close(): void;
}

/** Starts a balancer on a free loopback port in front of the backends on `backendPorts`. */
export function startBalancer(backendPorts: number[]): Balancer {
  if (backendPorts.length === 0) throw new RangeError("Cannot start a balancer: no backends");
  return new LoopbackBalancer(backendPorts);
}

class LoopbackBalancer implements Balancer {
  readonly port: number;
  #backendPorts: number[];
  #listener: Deno.Listener;
  #open = new Set<Deno.Conn>();
  #perBackend: number[];
  #pinned: number | null = null;
  #held = false;
  #next = 0;
  #closed = false;

  constructor(backendPorts: number[]) {
    this.#backendPorts = [...backendPorts];
    this.#perBackend = backendPorts.map(() => 0);
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accept().catch(() => {});
  }

  pin(index: number | null): void {
    if (index !== null) this.#checkIndex(index);
    this.#pinned = index;
  }

  hold(on: boolean): void {
    this.#held = on;
  }

  connectionsTo(index: number): number {
    this.#checkIndex(index);
    return this.#perBackend[index];
  }

  close(): void {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const conn of [...this.#open]) this.#closeQuietly(conn);
  }

  async #accept() {
    for await (const inbound of this.#listener) {
      this.#open.add(inbound);
      this.#forward(inbound).catch(() => this.#closeQuietly(inbound));
    }
  }

  /** Connects `inbound` to the first backend that accepts, starting at the pinned or next one. */
  async #forward(inbound: Deno.Conn) {
    if (this.#held) return this.#closeQuietly(inbound);
    const count = this.#backendPorts.length;
    const first = this.#pinned ?? this.#next++ % count;
    for (let i = 0; i < count; i++) {
      const index = (first + i) % count;
      let outbound: Deno.Conn;
      try {
        outbound = await Deno.connect({ hostname: "127.0.0.1", port: this.#backendPorts[index] });
      } catch {
        continue;
      }
      if (this.#closed || !this.#open.has(inbound)) {
        this.#closeQuietly(outbound);
        this.#closeQuietly(inbound);
        return;
      }
      this.#pipe(inbound, outbound, index);
      return;
    }
    this.#closeQuietly(inbound);
  }

  /**
   * Copies bytes both ways until either side ends or fails, then closes both:
   * a backend that goes away takes its client with it, mid-stream.
   */
  #pipe(inbound: Deno.Conn, outbound: Deno.Conn, index: number) {
    this.#open.add(outbound);
    this.#perBackend[index]++;
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      this.#perBackend[index]--;
      this.#closeQuietly(inbound);
      this.#closeQuietly(outbound);
    };
    // preventClose: on EOF from one side, end() closes both at once rather
    // than half-closing the other and waiting for it to finish too.
    inbound.readable.pipeTo(outbound.writable, { preventClose: true }).catch(() => {}).finally(end);
    outbound.readable.pipeTo(inbound.writable, { preventClose: true }).catch(() => {}).finally(end);
  }

  #checkIndex(index: number) {
    if (!Number.isInteger(index) || index < 0 || index >= this.#backendPorts.length) {
      throw new RangeError(
        `Cannot use backend ${index}: the balancer has ${this.#backendPorts.length} backends`,
      );
    }
  }

  #closeQuietly(conn: Deno.Conn) {
    this.#open.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}
