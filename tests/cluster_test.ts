import assert from "node:assert/strict";
import { parseOp } from "../lib/cluster.ts";

Deno.test("parseOp names a join's checked password by its salt, and reads the older record form", () => {
  const join = {
    op: "join",
    peer: "p1",
    home: "i1",
    ref: 3,
    channel: "room",
    userdata: { name: "Ann" },
    password: true,
  };
  assert.deepEqual(parseOp({ ...join, verified: "c2FsdA==" }), { ...join, verified: "c2FsdA==" });
  // An instance of the previous version sends the whole record: only its salt is kept.
  const old = { ...join, verified: { salt: "c2FsdA==", hash: "aGFzaA==", iterations: 100_000 } };
  assert.deepEqual(parseOp(old), { ...join, verified: "c2FsdA==" });
  assert.equal(parseOp({ ...join, verified: 5 }), undefined);
  assert.equal(parseOp({ ...join, verified: "x".repeat(65) }), undefined);
});

Deno.test("parseOp rebuilds alerts and a resume's browser, and refuses what is not one", () => {
  assert.deepEqual(parseOp({ op: "alert", channel: "room", alert: "wrong_passwords", x: 1 }), {
    op: "alert",
    channel: "room",
    alert: "wrong_passwords",
  });
  assert.equal(parseOp({ op: "alert", channel: "room", alert: "other" }), undefined);
  const resume = { op: "resume", peer: "p1", home: "i1", ref: 0, channels: [] };
  assert.deepEqual(parseOp({ ...resume, browser: "b-1" }), { ...resume, browser: "b-1" });
  assert.deepEqual(parseOp(resume), resume);
  assert.equal(parseOp({ ...resume, browser: 7 }), undefined);
});
