/**
 * An in-memory cluster for tests: two or three hubs in one process sharing
 * one op log, with the test deciding when each proposed op is appended to
 * the shared order and when the hubs apply it. Races that real Redis makes
 * by timing — a leave and a resume proposed at once on two instances, an op
 * from a dying instance ordered late — are written here step by step and
 * replay the same every run.
 *
 * `propose` only puts an op in its instance's outbox; `append(instance)`
 * moves the oldest one into the shared log; `run()` has every hub apply
 * every log entry it has not applied yet, in log order. `settle()` does
 * both until nothing is left. Relays go straight to the target instance.
 *
 * @module
 */

import type { Bus, BusHandlers, Op } from "../lib/cluster.ts";
import { Hub, type HubOptions } from "../lib/hub.ts";
import { TokenSigner } from "../lib/token.ts";
import { FakeClock, FakeConnection, type Frame, frame, SECRET } from "./_helpers.ts";

/** One instance's view of the shared log. */
class MemoryBus implements Bus {
  readonly instance: string;
  available = true;
  readonly outbox: Op[] = [];
  handlers: BusHandlers | undefined;
  /** Log entries applied here. */
  applied = 0;
  readonly #cluster: MemoryCluster;

  constructor(instance: string, cluster: MemoryCluster) {
    this.instance = instance;
    this.#cluster = cluster;
  }

  get problem(): string | undefined {
    return this.available ? undefined : "cut off (test)";
  }

  propose(op: Op): void {
    // A copy, as Redis would hand back: nothing shared by reference.
    this.outbox.push(JSON.parse(JSON.stringify(op)));
  }

  send(instance: string, peerId: string, text: string): boolean {
    if (!this.available) return false;
    this.#cluster.bus(instance)?.handlers?.deliver(peerId, text);
    return true;
  }
}

/** One person on one instance. */
export interface MemoryPerson {
  conn: FakeConnection;
  id: string;
  token: string;
  instance: string;
  got(event: string): Frame[];
  send(event: string, data: unknown): void;
  /** Closes the socket: `deliberate` (Leave) or a drop. */
  close(deliberate: boolean): void;
}

/** Hubs sharing one in-memory op log, on one fake clock. */
export class MemoryCluster {
  readonly clock: FakeClock = new FakeClock();
  readonly log: Op[] = [];
  readonly hubs = new Map<string, Hub>();
  #buses = new Map<string, MemoryBus>();
  #ids = 0;

  constructor() {
    this.clock.ms = 1_700_000_000_000;
  }

  /** Starts instance `name` (taking the rooms from a running one, if any). */
  start(name: string, options: HubOptions = {}): Hub {
    const bus = new MemoryBus(name, this);
    this.#buses.set(name, bus);
    const hub = new Hub({
      bus: (handlers) => {
        bus.handlers = handlers;
        return bus;
      },
      tokens: new TokenSigner(SECRET),
      resumeWindowMs: 25_000,
      now: this.clock.now,
      // Readable ids that replay alike: the instance, then a count.
      newId: () => `${name}${++this.#ids}`,
      ...options,
    });
    const running = [...this.#buses.values()].find((b) => b !== bus && b.handlers !== undefined);
    if (running !== undefined) {
      bus.handlers!.importState(running.handlers!.exportState());
      bus.applied = running.applied;
    }
    this.hubs.set(name, hub);
    return hub;
  }

  /** The bus of `instance`, if it runs. */
  bus(instance: string): MemoryBus | undefined {
    return this.#buses.get(instance);
  }

  /**
   * `instance` takes the rooms from `from` while it runs, as an instance
   * that missed ops does (`RedisBus` after a gap): `from` applies what it
   * has not yet, and `instance` goes on reading after that point.
   */
  resync(instance: string, from: string): void {
    const target = this.#buses.get(instance)!;
    const source = this.#buses.get(from)!;
    while (source.applied < this.log.length) source.handlers!.apply(this.log[source.applied++]);
    target.handlers!.importState(JSON.parse(JSON.stringify(source.handlers!.exportState())));
    target.applied = source.applied;
  }

  /** Stops `instance` as a SIGKILL would: its outbox is lost, its sockets are not closed. */
  kill(instance: string): void {
    this.#buses.delete(instance);
    this.hubs.delete(instance);
  }

  /** Moves the oldest op `instance` proposed into the shared log; returns it. */
  append(instance: string): Op {
    const op = this.#buses.get(instance)?.outbox.shift();
    if (op === undefined) throw new Error(`Cannot append: ${instance} proposed nothing`);
    this.log.push(op);
    return op;
  }

  /** Appends an op as if some instance had (a `dead` op, a stale op arriving late). */
  appendOp(op: Op): void {
    this.log.push(op);
  }

  /** Called after each op an instance applies (for a failing test's report). */
  afterApply: ((instance: string, index: number) => void) | undefined;

  /** Every running hub applies what it has not applied yet, in log order. */
  run(): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const bus of this.#buses.values()) {
        while (bus.applied < this.log.length) {
          const index = bus.applied++;
          bus.handlers?.apply(this.log[index]);
          this.afterApply?.(bus.instance, index);
          progress = true;
        }
      }
    }
  }

  /** Appends every outbox op (instances in start order) and applies, until nothing is left. */
  settle(): void {
    for (let round = 0; round < 1000; round++) {
      const waiting = [...this.#buses.values()].filter((b) => b.outbox.length > 0);
      if (
        waiting.length === 0 &&
        [...this.#buses.values()].every((b) => b.applied === this.log.length)
      ) {
        return;
      }
      for (const bus of waiting) while (bus.outbox.length > 0) this.append(bus.instance);
      this.run();
    }
    throw new Error("Cannot settle: ops keep coming");
  }

  /** Calls every hub's housekeeping. */
  tick(): void {
    for (const hub of this.hubs.values()) hub.tick();
  }

  /** A new connection on `instance`, `welcome` read. */
  connect(instance: string): MemoryPerson {
    const hub = this.hubs.get(instance);
    if (hub === undefined) throw new Error(`Cannot connect: ${instance} does not run`);
    const conn = new FakeConnection();
    const session = hub.connect(conn);
    const [welcome] = conn.frames("welcome");
    return {
      conn,
      id: session.peerId,
      token: welcome.data.resume_token,
      instance,
      got: (event) => conn.frames(event),
      send: (event, data) => session.receive(frame(event, data)),
      close: (deliberate) => session.close({ deliberate }),
    };
  }

  /** `person`'s newest resume token. */
  tokenOf(person: MemoryPerson): string {
    return person.got("session").at(-1)?.data.resume_token ?? person.token;
  }

  /** A new connection on `instance` resuming `person`'s identity into `channels`. */
  resume(
    instance: string,
    person: MemoryPerson,
    channels = ["room"],
    token = this.tokenOf(person),
  ): MemoryPerson {
    const next = this.connect(instance);
    next.send("resume", {
      token,
      channels: channels.map((channel) => ({ channel, userdata: { name: person.id } })),
    });
    return next;
  }

  /** The members of `room` as each running instance holds them. */
  views(room = "room"): Record<string, string[]> {
    return Object.fromEntries(
      [...this.hubs].map(([name, hub]) => [name, hub.registry.membersOf(room)]),
    );
  }
}
