/**
 * Counters and gauges for `/metrics`, rendered in the Prometheus text
 * exposition format. Plain numbers; the hub bumps them on its hot path.
 *
 * @module
 */

import { ERROR_CODES, type ErrorCode } from "./protocol.ts";

/** The server's counters. */
export class Metrics {
  /** Sockets accepted since start. */
  connectionsTotal = 0;
  /** Frames received from clients. */
  messagesReceived = 0;
  /** Frames relayed between peers (ICE candidates and descriptions). */
  messagesRelayed = 0;
  /** Connections closed for policy (abuse, slow consumer). */
  connectionsKicked = 0;
  /** WebSocket upgrades refused by the connection caps. */
  connectionsRefused = 0;
  /** Identities taken back with a resume token. */
  resumes = 0;
  /** Password hashes refused because the hashing queue was full. */
  passwordHashesRefused = 0;
  /** Error frames sent, by code. */
  readonly errors: Record<ErrorCode, number> = Object.fromEntries(
    ERROR_CODES.map((code) => [code, 0]),
  ) as Record<ErrorCode, number>;

  /** Renders the Prometheus text format; gauges are read at call time. */
  render(gauges: { connections: number; channels: number }): string {
    const lines = [
      "# HELP signal_connections Open WebSocket connections.",
      "# TYPE signal_connections gauge",
      `signal_connections ${gauges.connections}`,
      "# HELP signal_channels Channels with at least one member.",
      "# TYPE signal_channels gauge",
      `signal_channels ${gauges.channels}`,
      "# HELP signal_connections_total WebSocket connections accepted.",
      "# TYPE signal_connections_total counter",
      `signal_connections_total ${this.connectionsTotal}`,
      "# HELP signal_connections_kicked_total Connections closed for abuse or slowness.",
      "# TYPE signal_connections_kicked_total counter",
      `signal_connections_kicked_total ${this.connectionsKicked}`,
      "# HELP signal_connections_refused_total Upgrades refused by the connection caps.",
      "# TYPE signal_connections_refused_total counter",
      `signal_connections_refused_total ${this.connectionsRefused}`,
      "# HELP signal_resumes_total Peers that resumed their identity after a drop or restart.",
      "# TYPE signal_resumes_total counter",
      `signal_resumes_total ${this.resumes}`,
      "# HELP signal_password_hashes_refused_total Password hashes refused: the hashing queue was full.",
      "# TYPE signal_password_hashes_refused_total counter",
      `signal_password_hashes_refused_total ${this.passwordHashesRefused}`,
      "# HELP signal_messages_received_total Frames received from clients.",
      "# TYPE signal_messages_received_total counter",
      `signal_messages_received_total ${this.messagesReceived}`,
      "# HELP signal_messages_relayed_total Frames relayed between peers.",
      "# TYPE signal_messages_relayed_total counter",
      `signal_messages_relayed_total ${this.messagesRelayed}`,
      "# HELP signal_errors_total Error frames sent, by code.",
      "# TYPE signal_errors_total counter",
      ...ERROR_CODES.map((code) => `signal_errors_total{code="${code}"} ${this.errors[code]}`),
    ];
    return lines.join("\n") + "\n";
  }
}
