import assert from "node:assert/strict";
import { diagnose, type IceFacts, typeOfCandidate } from "../client/diagnosis.ts";

function facts(overrides: Partial<IceFacts>): IceFacts {
  return {
    iceServers: [],
    localTypes: new Set(["host"]),
    remoteTypes: new Set(["host"]),
    candidateErrors: [],
    failed: true,
    ...overrides,
  };
}

Deno.test("diagnose blames a missing TURN server when direct routes failed", () => {
  const d = diagnose(
    facts({
      iceServers: [{ urls: "stun:stun.example" }],
      localTypes: new Set(["host", "srflx"]),
      remoteTypes: new Set(["host", "srflx"]),
    }),
    "Bob",
  );
  assert.match(d.summary, /could not connect to Bob/);
  assert.match(d.summary, /no relay \(TURN\) server is configured/);
  assert.match(d.operatorHint, /Add a TURN server to ICE_SERVERS/);
});

Deno.test("diagnose explains host-only candidates with no ICE servers at all", () => {
  const d = diagnose(facts({}), "Bob");
  assert.match(d.summary, /different networks and no STUN or TURN server/);
});

Deno.test("diagnose names unreachable ICE servers from icecandidateerror", () => {
  const d = diagnose(
    facts({
      iceServers: [{ urls: "stun:stun.example:3478" }],
      candidateErrors: [{ url: "stun:stun.example:3478", errorCode: 701, errorText: "timeout" }],
    }),
    "Bob",
  );
  assert.match(
    d.summary,
    /could not reach the connection helper server \(stun:stun\.example:3478\)/,
  );
  assert.match(d.operatorHint, /reachable/);
});

Deno.test("diagnose spots refused TURN credentials and a TURN server giving no relay", () => {
  const turn = [{ urls: "turn:turn.example:3478", username: "u", credential: "p" }];
  const auth = diagnose(
    facts({
      iceServers: turn,
      candidateErrors: [{
        url: "turn:turn.example:3478",
        errorCode: 401,
        errorText: "Unauthorized",
      }],
    }),
    "Bob",
  );
  assert.match(auth.summary, /refused TURN credentials/);
  const noRelay = diagnose(facts({ iceServers: turn, failed: false }), "Bob");
  assert.match(noRelay.summary, /is still trying to connect to Bob, and got no relay address/);
  const relayed = diagnose(facts({ iceServers: turn, localTypes: new Set(["relay"]) }), "Bob");
  assert.match(relayed.summary, /even through the relay server/);
});

Deno.test("typeOfCandidate reads the typ field", () => {
  assert.equal(
    typeOfCandidate("candidate:1 1 udp 2122 192.168.1.2 5000 typ host generation 0"),
    "host",
  );
  assert.equal(
    typeOfCandidate("candidate:2 1 udp 1686 1.2.3.4 5000 typ srflx raddr 0.0.0.0"),
    "srflx",
  );
  assert.equal(typeOfCandidate("candidate:3 1 udp 1 5.6.7.8 5000 typ relay"), "relay");
  assert.equal(typeOfCandidate(""), null);
});
