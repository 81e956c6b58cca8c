/**
 * Why a peer connection failed, in plain words. Looks at what ICE saw —
 * candidate types gathered on both sides, ICE server errors, whether TURN
 * is configured — and names the most likely cause and what the operator
 * can do about it. No mesh app tells users this; most just spin.
 *
 * @module
 */

import type { CandidateType } from "./quality.ts";

/** What a peer connection observed while trying to connect. */
export interface IceFacts {
  /** The ICE servers the connection was given. */
  iceServers: readonly RTCIceServer[];
  /** Types of the candidates we gathered. */
  localTypes: ReadonlySet<CandidateType>;
  /** Types of the candidates the other side sent us. */
  remoteTypes: ReadonlySet<CandidateType>;
  /** `icecandidateerror` events: which server, which code. */
  candidateErrors: readonly {
    url: string;
    errorCode: number;
    errorText: string;
  }[];
  /** Whether the connection failed or is only slow to connect. */
  failed: boolean;
}

/** A diagnosis for the user and a hint for whoever runs the server. */
export interface Diagnosis {
  summary: string;
  operatorHint: string;
}

function urlsOf(servers: readonly RTCIceServer[]): string[] {
  return servers.flatMap((s) => typeof s.urls === "string" ? [s.urls] : [...s.urls]);
}

/** Names the most likely cause of a failing or stuck connection. */
export function diagnose(facts: IceFacts, peerName: string): Diagnosis {
  const urls = urlsOf(facts.iceServers);
  const hasTurn = urls.some((u) => /^turns?:/.test(u));
  const hasStun = urls.some((u) => /^stuns?:/.test(u));
  const verb = facts.failed ? "could not connect to" : "is still trying to connect to";
  const unreachable = facts.candidateErrors.filter((e) =>
    e.errorCode === 701 || e.errorCode >= 700
  );
  const authFailed = facts.candidateErrors.find((e) => e.errorCode === 401 || e.errorCode === 403);

  if (authFailed !== undefined) {
    return {
      summary:
        `Your browser ${verb} ${peerName}: the relay server ${authFailed.url} refused TURN credentials (wrong or expired).`,
      operatorHint:
        "Check that TURN_SECRET equals coturn's static-auth-secret and that both clocks are right (or, for fixed credentials, the username and credential in ICE_SERVERS).",
    };
  }
  if (
    unreachable.length > 0 && unreachable.length >= urls.length &&
    urls.length > 0
  ) {
    const list = [...new Set(unreachable.map((e) => e.url))].join(", ");
    return {
      summary:
        `Your browser ${verb} ${peerName}: it could not reach the connection helper server (${list}). A firewall may block it.`,
      operatorHint:
        "Check that the STUN/TURN addresses in ICE_SERVERS are right and reachable; offer TURN over TCP or TLS on port 443 (turns:) for strict firewalls.",
    };
  }
  if (hasTurn && !facts.localTypes.has("relay")) {
    return {
      summary: `Your browser ${verb} ${peerName}, and got no relay address from the TURN server.`,
      operatorHint:
        "The TURN server gave no relay candidate: check it is running, its credentials, and that UDP 3478 (or TCP/TLS 443) is open to it.",
    };
  }
  if (!hasTurn) {
    const onlyHost = facts.remoteTypes.size > 0 &&
      [...facts.remoteTypes].every((t) => t === "host");
    return {
      summary: onlyHost && !hasStun
        ? `Your browser ${verb} ${peerName}: you are on different networks and no STUN or TURN server is configured, so only same-network connections can work.`
        : `Your browser ${verb} ${peerName}: a direct connection was not possible (likely a strict NAT or firewall on one side), and no relay (TURN) server is configured to fall back on.`,
      operatorHint:
        'Add a TURN server to ICE_SERVERS, e.g. [{"urls":"turn:turn.example.com:3478","username":"…","credential":"…"}].',
    };
  }
  return {
    summary: `Your browser ${verb} ${peerName} even through the relay server.`,
    operatorHint:
      "Both sides had relay candidates but no pair worked: check the TURN server's relay port range is open and its external IP is set.",
  };
}

/** Reads the candidate type out of a candidate line ("… typ srflx …"). */
export function typeOfCandidate(candidate: string): CandidateType | null {
  const match = / typ (host|srflx|prflx|relay)(?: |$)/.exec(candidate);
  return match === null ? null : match[1] as CandidateType;
}
