/**
 * The commit-then-reveal exchange behind a security code, run by the two
 * browsers of one connection over its chat data channel. Each side draws
 * 32 random bytes; the side that offered (the initiator) first sends only
 * SHA-256 of its value, the other answers with its value in clear, and
 * only then does the first reveal its own, which must match what it
 * committed to. A side in the middle therefore has to fix its value
 * before it learns the other one, and gets one chance in 10^15 that the
 * two codes agree instead of as many tries as it can compute. The code
 * itself comes from `security_code.ts`.
 *
 * Messages (JSON strings on the chat data channel, rebuilt like
 * `peer_message.ts`; every hash and value is 64 lower-case hex digits):
 *
 * - `{"type":"sas-commit","hash":H,"pin":P}`: initiator, H = SHA-256(value).
 * - `{"type":"sas-value","hash":H,"value":V,"pin":P}`: responder, only
 *   after a commitment, naming the commitment it answers.
 * - `{"type":"sas-reveal","value":V}`: initiator; SHA-256(V) must be H.
 *
 * `pin` is `null`, or SHA-256 of `mesh-security-pin-v1\n<code>\n` for a
 * code this browser already agreed with this pair of certificates
 * (`pinned_codes.ts`). When both sides send the same pin, the result says
 * `pinned`, and both keep showing that code: the code for two browsers
 * stays the same from one meeting to the next although the values are
 * fresh. Fresh values alone would never let a stored code be reused by
 * someone in the middle, who never holds both certificates.
 *
 * Anything out of order ends the exchange with "Could not verify this
 * connection" and no values: a value or reveal before the commitment, a
 * reveal that does not match it, a second commitment, a message meant for
 * the other role, or a malformed one. A finished exchange's outcome
 * stands: later messages are ignored, except that a responder keeps a new
 * commitment for its next {@linkcode SasExchange.restart}. Messages that
 * name an earlier round's commitment are stale and ignored. Whether a new
 * commitment gets a round at all is `peer_security.ts`'s call: one that
 * arrives in the middle of a round fails that round (an initiator that saw
 * our value and started over gets no second try at it), and the responder
 * answers at most `MAX_ROUNDS` commitments per connected period.
 *
 * @module
 */

import { fromHex, HEX_32, sha256, toHex } from "./_bytes.ts";

/** What the person sees when the exchange fails. */
export const SAS_FAILURE = "Could not verify this connection";

/** A message of the exchange. */
export type SasMessage =
  | { type: "sas-commit"; hash: string; pin: string | null }
  | { type: "sas-value"; hash: string; value: string; pin: string | null }
  | { type: "sas-reveal"; value: string };

/** The outcome of one exchange. */
export type SasResult =
  | {
    ok: true;
    localValue: Uint8Array;
    remoteValue: Uint8Array;
    /** Both sides hold the same pinned code: show it rather than a new one. */
    pinned: boolean;
  }
  | { ok: false; reason: typeof SAS_FAILURE };

const SAS_TYPES = new Set(["sas-commit", "sas-value", "sas-reveal"]);

/** Longer than any well-formed exchange message. */
const MAX_MESSAGE_LENGTH = 512;

/** Longest data channel message looked into at all (as `peer_message.ts`). */
const MAX_DATA_LENGTH = 8192;

/** Earlier rounds' commitments remembered to recognise stale messages. */
const MAX_PAST_ROUNDS = 16;

/** Serializes an exchange message. */
export function encodeSasMessage(message: SasMessage): string {
  return JSON.stringify(message);
}

/** Whether `data` is a data channel message of the exchange, well-formed or not. */
export function isSasMessage(data: unknown): boolean {
  const record = parseObject(data, MAX_DATA_LENGTH);
  return record !== undefined && typeof record.type === "string" && SAS_TYPES.has(record.type);
}

/** Parses an exchange message; `undefined` for anything malformed or of another type. */
export function parseSasMessage(data: unknown): SasMessage | undefined {
  const record = parseObject(data, MAX_MESSAGE_LENGTH);
  if (record === undefined) return;
  const { type, hash, value } = record;
  const pin = record.pin ?? null;
  if (pin !== null && !isHex32(pin)) return;
  if (type === "sas-commit" && isHex32(hash)) return { type, hash, pin };
  if (type === "sas-value" && isHex32(hash) && isHex32(value)) return { type, hash, value, pin };
  if (type === "sas-reveal" && isHex32(value)) return { type, value };
}

function parseObject(data: unknown, maxLength: number): Record<string, unknown> | undefined {
  if (typeof data !== "string" || data.length > maxLength) return;
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    return;
  }
}

function isHex32(value: unknown): value is string {
  return typeof value === "string" && HEX_32.test(value);
}

/** SHA-256 of `bytes` as hex: a commitment. */
async function commitment(bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes));
}

/** What a pinned code is announced as: its hash, never the code. */
async function pinHash(code: string): Promise<string> {
  return toHex(await sha256(`mesh-security-pin-v1\n${code}\n`));
}

/** Collaborators and callbacks of a {@linkcode SasExchange}; callbacks never throw. */
export interface SasExchangeOptions {
  /** This side offered the connection (`should_create_offer`): it commits first. */
  initiator: boolean;
  /** Sends a message on the data channel (queued there until it opens). */
  send(data: string): void;
  /** 32 fresh random bytes. Default `crypto.getRandomValues`. */
  random?(): Uint8Array;
  /** The outcome of each exchange: once per start or restart. */
  done(result: SasResult): void;
  /** A code agreed earlier for this connection's two certificates, or `null`. Default `null`. */
  pinned?: string | null;
}

type Phase = "committed" | "awaiting-commit" | "awaiting-reveal" | "done";

/** One connection's exchange; it starts on construction. */
export class SasExchange {
  #options: SasExchangeOptions;
  #phase: Phase = "done";
  /** Our value this round. */
  #own: Uint8Array = new Uint8Array();
  #ownPin: string | null = null;
  /** The round's commitment: ours (initiator) or theirs (responder). */
  #commit: string | null = null;
  #theirPin: string | null = null;
  #past: string[] = [];
  /** A responder's commitment that arrived between rounds. */
  #held: SasMessage | null = null;
  /** Every step runs in order: hashing is asynchronous. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: SasExchangeOptions) {
    this.#options = options;
    this.restart({ pinned: options.pinned ?? null });
  }

  /**
   * Starts a new exchange with fresh values (a new connection or data
   * channel, or new certificates after renegotiation); `pinned` as in the
   * options. The round in progress, if any, is abandoned without a result.
   */
  restart({ pinned = null }: { pinned?: string | null } = {}): void {
    this.#enqueue(() => this.#begin(pinned));
  }

  /**
   * Handles a data channel message: true if it belonged to the exchange
   * (the caller then drops it), false if it is some other message.
   */
  receive(data: string): boolean {
    if (!isSasMessage(data)) return false;
    const message = parseSasMessage(data) ?? null;
    this.#enqueue(() => message === null ? this.#fail() : this.#handle(message));
    return true;
  }

  /** Resolves once every step asked for so far has run (for tests and shutdown). */
  idle(): Promise<void> {
    return this.#queue;
  }

  #enqueue(step: () => void | Promise<void>) {
    this.#queue = this.#queue.then(step).catch(() => this.#fail());
  }

  async #begin(pinned: string | null) {
    const { initiator } = this.#options;
    // Nothing else runs until this step ends: no message sees a half-set round.
    this.#phase = initiator ? "committed" : "awaiting-commit";
    if (this.#commit !== null) this.#past = [...this.#past, this.#commit].slice(-MAX_PAST_ROUNDS);
    this.#commit = null;
    this.#theirPin = null;
    this.#own = (this.#options.random ?? randomValue)();
    if (this.#own.length !== 32) return this.#fail();
    this.#ownPin = pinned === null ? null : await pinHash(pinned);
    if (!initiator) {
      const held = this.#held;
      this.#held = null;
      if (held !== null) await this.#handle(held);
      return;
    }
    this.#commit = await commitment(this.#own);
    this.#send({ type: "sas-commit", hash: this.#commit, pin: this.#ownPin });
  }

  async #handle(message: SasMessage) {
    if (this.#phase === "done") {
      if (message.type === "sas-commit" && !this.#seen(message.hash)) this.#held = message;
      return;
    }
    // The initiator hears only values; the responder only commitments and reveals.
    if ((message.type === "sas-value") !== this.#options.initiator) return this.#fail();
    if (message.type === "sas-commit") return this.#onCommit(message);
    if (message.type === "sas-reveal") return await this.#onReveal(message.value);
    this.#onValue(message);
  }

  /** Responder: the commitment opens the round; a second one ends it. */
  #onCommit(message: Extract<SasMessage, { type: "sas-commit" }>) {
    if (this.#phase === "awaiting-reveal" && !this.#seen(message.hash)) {
      this.#held = message; // the other side started over: so do we, at our restart
    }
    if (this.#phase !== "awaiting-commit" || this.#seen(message.hash)) return this.#fail();
    this.#commit = message.hash;
    this.#theirPin = message.pin;
    this.#phase = "awaiting-reveal";
    this.#send({
      type: "sas-value",
      hash: message.hash,
      value: toHex(this.#own),
      pin: this.#ownPin,
    });
  }

  /** Initiator: their value, answering our commitment; we reveal ours. */
  #onValue(message: Extract<SasMessage, { type: "sas-value" }>) {
    if (this.#past.includes(message.hash)) return; // an answer to an abandoned round
    if (this.#phase !== "committed" || message.hash !== this.#commit) return this.#fail();
    this.#send({ type: "sas-reveal", value: toHex(this.#own) });
    this.#succeed(fromHex(message.value)!, message.pin);
  }

  /** Responder: the initiator's value must be the one it committed to. */
  async #onReveal(value: string) {
    const hash = await commitment(fromHex(value)!);
    if (this.#past.includes(hash)) return; // the end of an abandoned round
    if (this.#phase !== "awaiting-reveal" || hash !== this.#commit) return this.#fail();
    this.#succeed(fromHex(value)!, this.#theirPin);
  }

  #seen(hash: string): boolean {
    return hash === this.#commit || this.#past.includes(hash);
  }

  #succeed(remoteValue: Uint8Array, theirPin: string | null) {
    this.#phase = "done";
    const pinned = this.#ownPin !== null && this.#ownPin === theirPin;
    this.#report({ ok: true, localValue: this.#own, remoteValue, pinned });
  }

  #fail() {
    if (this.#phase === "done") return;
    this.#phase = "done";
    this.#report({ ok: false, reason: SAS_FAILURE });
  }

  #send(message: SasMessage) {
    try {
      this.#options.send(encodeSasMessage(message));
    } catch {
      // The channel is gone: the exchange simply never finishes.
    }
  }

  #report(result: SasResult) {
    try {
      this.#options.done(result);
    } catch {
      // A callback must not break the exchange.
    }
  }
}

function randomValue(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}
