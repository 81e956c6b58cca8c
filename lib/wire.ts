/**
 * Values the server and the browser client both rely on, beyond the
 * message shapes in `protocol.ts`: WebSocket close codes and what they
 * mean. No Deno, no DOM: the client bundles this file.
 *
 * @module
 */

/** WebSocket close codes the server sends or reads, by meaning. */
export const CLOSE_CODES = {
  /** The client's Leave: a deliberate end. */
  normal: 1000,
  /** A tab closing, or the server shutting down. */
  goingAway: 1001,
  /** A close frame without a code (`ws.close()`). */
  noStatus: 1005,
  /** Refused for good: over a limit, or never joined. The client does not retry. */
  policyViolation: 1008,
  /** The server failed to set the connection up (a bug, not the client's fault). */
  internalError: 1011,
  /** Temporarily overloaded (a slow consumer): the client resumes. */
  tryAgainLater: 1013,
  /** Another connection resumed this identity (a second tab). The client gives up. */
  replaced: 4001,
  /** A host removed this person from the room. The client does not resume. */
  removed: 4003,
} as const;

/** Close reasons the client reads, beside their codes. */
export const CLOSE_REASONS = {
  /**
   * With 1008: the connection neither joined nor resumed in time (a
   * pre-join screen left idle). The client connects again when its person
   * comes back, saying nothing.
   */
  joinTimeout: "join or resume within the timeout",
} as const;

/**
 * Whether a close code says the client left on purpose: Leave (1000), a
 * closed tab (1001), or a close frame without a code (1005). A dropped
 * network (1006) is not deliberate: the server holds the peer for resuming.
 */
export function isDeliberateCode(code: number): boolean {
  return code === CLOSE_CODES.normal || code === CLOSE_CODES.goingAway ||
    code === CLOSE_CODES.noStatus;
}
